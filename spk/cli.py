"""`spk`: the command-line tool for everything around `pulumi` (offline plan/diff, promotion, policy,
cost, local pipeline runs and the demo). Each group of commands lives in its own module and registers itself here."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="spk",
    help="spark-platform: offline plan/diff of a stack, promotion, policy, cost, local pipeline runs, demo.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_commands() -> None:
    # Imported here, not at the top, so each module can register onto the finished `app`.
    from spk import (
        bootstrap,
        config_reference,
        cost_commands,
        manifests,
        pipeline_commands,
        policy_commands,
        promote,
        stack_commands,
        table_commands,
    )

    stack_commands.register(app)
    config_reference.register(app)
    pipeline_commands.register(app)
    table_commands.register(app)
    policy_commands.register(app)
    promote.register(app)
    cost_commands.register(app)
    manifests.register(app)
    bootstrap.register(app)


_register_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
