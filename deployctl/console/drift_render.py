"""Human rendering of a drift report as rich ``Text`` lines (no printing here)."""

from __future__ import annotations

from rich.text import Text

from deployctl.console.render import entry_lines
from deployctl.planner.drift import DeploymentDrift, DriftReport, DriftStatus

SYMBOLS = {
    DriftStatus.DRIFTED: ("~", "yellow"),
    DriftStatus.VANISHED: ("-", "red"),
}


def deployment_lines(deployment: DeploymentDrift) -> list[Text]:
    """``~ drifted ADDRESS  (reason)`` and its field changes, or ``- vanished ADDRESS (reason)``."""
    symbol, style = SYMBOLS[deployment.status]
    lines = entry_lines(
        symbol,
        style,
        deployment.status.value,
        deployment.address,
        deployment.reason,
        deployment.diff,
    )
    if deployment.status is DriftStatus.DRIFTED and deployment.not_reported:
        lines.append(
            Text(
                "      not reported by the target (not checked): "
                + ", ".join(deployment.not_reported),
                style="dim",
            )
        )
    return lines


def summary_line(report: DriftReport) -> Text:
    if not report.has_drift:
        return Text("No drift.", style="bold green")
    counts = report.summary()
    text = Text("Drift: ", style="bold")
    text.append(
        f"{counts['drifted']} drifted, {counts['vanished']} vanished, "
        f"{counts['unmanaged']} unmanaged, {counts['in_sync']} in sync."
    )
    return text


def drift_lines(report: DriftReport) -> list[Text]:
    """The whole report: changed deployments, unmanaged ones, unchecked fields, the summary."""
    lines: list[Text] = []
    changed = [d for d in report.deployments if d.status is not DriftStatus.IN_SYNC]
    if changed:
        lines.append(
            Text("Changed on the targets outside deployctl (last apply → live):", style="bold")
        )
        lines.append(Text(""))
        for deployment in changed:
            lines.extend(deployment_lines(deployment))
        lines.append(Text(""))
    if report.unmanaged:
        lines.append(
            Text(
                "Not managed by deployctl: " + ", ".join(u.address for u in report.unmanaged),
                style="yellow",
            )
        )
    unchecked = [d for d in report.with_status(DriftStatus.IN_SYNC) if d.not_reported]
    if unchecked:
        lines.append(
            Text(
                "In sync on the fields the target reports; not reported (not checked): "
                + ", ".join(f"{d.address} ({', '.join(d.not_reported)})" for d in unchecked),
                style="dim",
            )
        )
    lines.append(summary_line(report))
    return lines
