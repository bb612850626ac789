"""The Iceberg catalog `lake`: by default the AWS Glue Data Catalog, one database per medallion layer created here
(names from `pipelines.lake`, data under the warehouse bucket); or an existing REST catalog (`spark.catalog.kind:
rest`), in which case nothing is created and only the Spark conf changes. Config model: `spark.catalog`
(components/spark_stack.py `CatalogArgs`)."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.context import StackContext
from components.spark_conf import SparkConf, catalog_conf, s3_uri
from components.spark_stack import CatalogArgs
from pipelines.lake import LAKE_LAYERS, glue_database


class IcebergCatalog(pulumi.ComponentResource):
    """Glue databases per layer (`databases[layer]`) and the catalog's Spark conf (`spark_conf`)."""

    def __init__(
        self,
        name: str,
        args: CatalogArgs,
        context: StackContext,
        warehouse_bucket: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("spark-platform:catalog:IcebergCatalog", name, None, opts)
        self.kind = args.kind
        self.spark_conf: SparkConf = catalog_conf(
            kind=args.kind,
            region=context.region,
            warehouse_bucket=warehouse_bucket,
            rest_uri=str(args.rest_uri) if args.rest_uri else None,
        )
        self.databases: dict[str, aws.glue.CatalogDatabase] = {}
        if args.kind == "glue":
            for layer in LAKE_LAYERS:
                database = glue_database(context.environment, layer)
                self.databases[layer] = aws.glue.CatalogDatabase(
                    f"{layer}-database",
                    name=database,
                    description=f"{context.name_prefix}: Iceberg tables of the {layer} layer",
                    # Iceberg's GlueCatalog puts new tables under the database location: same layout as the
                    # warehouse default (`<warehouse>/<db>.db/<table>`), but explicit for other engines (Athena).
                    location_uri=s3_uri(warehouse_bucket, f"warehouse/{database}.db", scheme="s3"),
                    tags={**context.tags, "layer": layer},
                    # Dropping a database drops its tables' metadata: protected like the buckets.
                    opts=pulumi.ResourceOptions(parent=self, protect=context.protect_stateful),
                )
        self.register_outputs(
            {
                "kind": args.kind,
                "databases": {layer: database.name for layer, database in self.databases.items()},
            }
        )
