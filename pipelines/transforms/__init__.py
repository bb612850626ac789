"""Pure DataFrame -> DataFrame transforms of each medallion layer. No reads, no writes."""
