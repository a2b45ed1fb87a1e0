"""Medians of every round, ratios, the floor check and the printed table."""

import statistics

TOOLS = ["envctl", "compose@0.2s", "compose@1s", "floor"]
# Steps where the floor does the same work as envctl, so envctl under it means a wrong floor.
FLOOR_STEPS = ["cold up", "down -t 0", "cold up, volumes", "down graceful, volumes"]


def summarize(rounds, headline):
    """{size: {step: {tool: median secs, "rounds": n, ratios}}}, medians over ALL rounds."""
    samples = {}
    for r in rounds:
        for tool, steps in r["secs"].items():
            for step, secs in steps.items():
                samples.setdefault(str(r["size"]), {}).setdefault(step, {}) \
                    .setdefault(tool, []).append(secs)
    summary = {}
    for size, steps in samples.items():
        for step, tools in steps.items():
            med = {tool: round(statistics.median(v), 4) for tool, v in tools.items()}
            entry = {**med, "rounds": {tool: len(v) for tool, v in tools.items()}}
            e = med.get("envctl")
            for tool in ("compose@0.2s", "compose@1s", "floor"):
                other = med.get(tool)
                entry[f"envctl_over_{tool}"] = round(e / other, 3) if e and other else None
            entry["headline_ratio"] = entry[f"envctl_over_{headline}"]
            # Per-round count of envctl under the floor: informative, the median decides.
            if "floor" in tools and "envctl" in tools:
                entry["rounds_envctl_under_floor"] = sum(
                    1 for r in rounds if str(r["size"]) == size
                    and r["secs"]["envctl"].get(step, float("inf"))
                    < r["secs"]["floor"].get(step, 0))
            summary.setdefault(size, {})[step] = entry
    return summary


def floor_violations(summary):
    out = []
    for size, steps in summary.items():
        for step in FLOOR_STEPS:
            entry = steps.get(step, {})
            e, f = entry.get("envctl"), entry.get("floor")
            if e is not None and f is not None and e < f:
                out.append({"size": int(size), "step": step, "envctl": e, "floor": f})
    return out


def table(summary, headline):
    def fmt(x, p=2):
        return f"{x:.{p}f}" if x is not None else "-"

    rows = [f"{'N':>3}  {'step':<26}{'envctl':>8}{'c@0.2s':>8}{'c@1s':>8}{'floor':>8}"
            f"{'e/c@0.2s':>10}{'e/c@1s':>8}{'e/floor':>9}"]
    for size, steps in summary.items():
        for step, entry in steps.items():
            rows.append(
                f"{size:>3}  {step:<26}{fmt(entry.get('envctl')):>8}"
                f"{fmt(entry.get('compose@0.2s')):>8}{fmt(entry.get('compose@1s')):>8}"
                f"{fmt(entry.get('floor')):>8}{fmt(entry['envctl_over_compose@0.2s']):>10}"
                f"{fmt(entry['envctl_over_compose@1s']):>8}{fmt(entry['envctl_over_floor']):>9}")
    rows.append(f"(headline ratio: envctl / {headline})")
    return "\n".join(rows)
