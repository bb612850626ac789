"""Every agreement between the layers of spark-platform, in one place: the project's names, the lake's catalog,
namespaces and tables, the pipeline metrics and their port, the job specs, Spark's version and tuned defaults,
the node-pool and namespace contract, and the job environment (what the Spark layer renders into a job's pod and
how the pipelines read it back).

Pure data: nothing here imports pulumi or pyspark, so the Pulumi program (`components/`), the pipelines
(`pipelines/`) and the policy pack (`policies/`) all import it and never each other (`.importlinter`)."""
