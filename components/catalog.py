"""The Iceberg catalog `lake`: by default the AWS Glue Data Catalog, one database per medallion layer created here
(names from `contracts.lake`, data under the warehouse bucket); or an existing REST catalog (`spark.catalog.kind:
rest`), in which case nothing is created and only the Spark conf changes. Config model: `spark.catalog`
(components/spark_stack.py `CatalogArgs`)."""

from __future__ import annotations

from typing import Literal

import pulumi
import pulumi_aws as aws
from pydantic import AnyHttpUrl, Field, model_validator

from components.context import StackContext
from components.model import ConfigModel, rule_error
from components.spark_conf import SparkConf, catalog_conf, s3_uri
from contracts.lake import LAKE_LAYERS, WAREHOUSE_PREFIX, glue_database


class CatalogArgs(ConfigModel):
    kind: Literal["glue", "rest"] = Field(default="glue", description="Iceberg catalog: AWS Glue, or a REST catalog.")
    rest_uri: AnyHttpUrl | None = Field(default=None, description="REST catalog URI (required when kind is rest).")

    @model_validator(mode="after")
    def _rest_needs_uri(self) -> CatalogArgs:
        if self.rest_uri is not None and (self.rest_uri.scheme != "https" or self.rest_uri.username):
            # The catalog hands out table locations and (vended) credentials: TLS only, and no credentials in a
            # URL that lands in the plan and the job conf.
            raise rule_error("restUri", "an https:// URL without user:password", "a URL that is not")
        if self.kind == "rest" and self.rest_uri is None:
            raise rule_error("restUri", "a REST catalog URI when kind is rest", None)
        return self



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
                    location_uri=s3_uri(warehouse_bucket, f"{WAREHOUSE_PREFIX}/{database}.db", scheme="s3"),
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
