"""The tables printed on stdout, one per section, from the results written to JSON."""

from __future__ import annotations

from typing import Any


def table(title: str, headers: list[str], rows: list[list[str]]) -> str:
    """A titled fixed-width table: first column left-aligned, the others right-aligned."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        cells = [str(cell) for cell in cells]
        right = [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([cells[0].ljust(widths[0]), *right]).rstrip()

    rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
    return "\n".join([title, rule, line(headers), rule, *map(line, rows), ""])


def _rate(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def methods_table(rows: list[dict[str, Any]]) -> str:
    body = [
        [
            row["method"],
            _rate(row["framework"]["images_per_second"]),
            _rate(row["bare"]["images_per_second"]),
            f"{row['overhead']:.3f}",
            f"{row['framework']['peak_memory_mib']:.0f}",
            f"{row['bare']['peak_memory_mib']:.0f}",
        ]
        for row in rows
    ]
    headers = ["method", "framework img/s", "bare img/s", "fw/bare time", "fw MiB", "bare MiB"]
    return table("Training step: framework (pl.Trainer.fit) vs bare PyTorch", headers, body)


def heads_table(section: dict[str, Any]) -> str:
    body = []
    for row in section["rows"]:
        name = "[" + ",".join(row["heads"]) + "]"
        if "skipped" in row:
            body.append([name, "-", "-", "-", "-", row["skipped"]])
            continue
        body.append(
            [
                name,
                _rate(row["images_per_second"]),
                f"{1e3 * row['seconds_per_step']:.1f}",
                f"{row['relative_step_time']:.3f}",
                f"{row['peak_memory_mib']:.0f}",
                "",
            ]
        )
    headers = ["heads", "img/s", "ms/step", "x plain step", "peak MiB", "note"]
    return table(f"Loss heads on {section['method']} (framework step)", headers, body)


def eval_table(section: dict[str, Any]) -> str:
    body = []
    if "knn" in section:
        knn = section["knn"]
        what = f"k-NN {knn['test']} queries x {knn['train']} train, D={knn['dim']}, k={knn['k']}"
        body.append([what, _rate(knn["queries_per_second"]), "queries/s"])
    if "linear_probe" in section:
        probe = section["linear_probe"]
        what = f"linear probe, {probe['samples']} cached features D={probe['dim']}"
        for side in ("framework", "bare"):
            rate = probe[side]["samples_per_second"]
            body.append([f"{what} ({side})", _rate(rate), "samples/s"])
        body.append(["linear probe fw/bare time", f"{probe['ratio']:.2f}", ""])
    if "extraction" in section:
        extraction = section["extraction"]
        what = f"feature extraction, {extraction['images']} images"
        body.append([what, _rate(extraction["images_per_second"]), "img/s"])
    return table("Evaluation", ["what", "speed", "unit"], body)


def data_table(section: dict[str, Any]) -> str:
    per_image = section["per_image"]
    body = [
        [
            "per image (MultiViewTransform)",
            _rate(per_image["views_per_second"]),
            str(per_image["threads"]),
            "1.00",
        ]
    ]
    batched = section["batched"]
    if batched["available"]:
        speedup = batched["views_per_second"] / per_image["views_per_second"]
        body.append(
            [
                f"batched ({section['batched_device']})",
                _rate(batched["views_per_second"]),
                str(batched["threads"]),
                f"{speedup:.2f}",
            ]
        )
    else:
        body.append(["batched", "not available", "", ""])
    headers = ["augmentation (symmetric, 2 views)", "views/s", "threads", "speed-up"]
    in_memory = table("Data loading", headers, body)
    folder = section.get("folder", [])
    workers = next((row for row in folder if row.get("augment_on") == "workers"), None)
    rows = [
        [
            f"augment_on={row['augment_on']}",
            _rate(row["views_per_second"]) if "views_per_second" in row else row["refused"],
            str(row.get("workers", "")),
            f"{row['views_per_second'] / workers['views_per_second']:.2f}"
            if workers and "views_per_second" in row and "views_per_second" in workers
            else "",
        ]
        for row in folder
    ]
    headers = ["folder of JPEGs, 224 px views", "views/s", "workers", "vs workers"]
    return in_memory + ("\n" + table("Folder data", headers, rows) if rows else "")


def side_by_side_table(section: dict[str, Any]) -> str:
    title = "hyperssl vs solo-learn, quiet and next to a busy neighbour"
    if "skipped" in section:
        return f"{title}: skipped, {section['skipped']}\n"
    body = [
        [
            row["what"],
            row["load"],
            row["unit"],
            _rate(row["hyperssl"]),
            _rate(row["solo_learn"]),
            f"{row['speedup']:.2f}",
        ]
        for row in section["rows"]
    ]
    headers = ["what", "load", "unit", "hyperssl", "solo-learn", "speed-up"]
    return table(title, headers, body)


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    """A GitHub-flavoured markdown table, as BENCHMARKS.md's; a ``|`` in a cell is escaped."""
    lines = [headers, ["---"] * len(headers), *rows]
    return "\n".join(
        "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |" for cells in lines
    )


CHECK_COLUMNS = [
    "kind", "case", "settings", "hyperssl", "bare", "fw/bare time",
    "hyperssl peak MiB", "bare peak MiB", "data ÷ step", "note",
]  # fmt: skip
PRECISIONS = {"32-true": "fp32", "bf16-mixed": "bf16"}


def _check_row(
    kind: str,
    case: str,
    settings: str = "",
    *,
    rate: str = "",
    bare_rate: str = "",
    overhead: str = "",
    memory: str = "",
    bare_memory: str = "",
    data_over_step: str = "",
    note: str = "",
) -> list[str]:
    """The cells of one row, in the order of :data:`CHECK_COLUMNS`."""
    return [
        kind, case, settings, rate, bare_rate, overhead, memory, bare_memory, data_over_step, note
    ]  # fmt: skip


def _cuda_tests_row(row: dict[str, Any]) -> list[str]:
    if "status" in row or "error" in row:  # not run, or pytest did not end (a timeout)
        return _check_row("CUDA tests", "pytest -m cuda", note=row.get("status") or row["error"])
    counts = ", ".join(f"{row[name]} {name}" for name in ("passed", "failed", "skipped", "errors"))
    return _check_row("CUDA tests", "pytest -m cuda", note=f"{counts} ({row['seconds']:.0f} s)")


def step_settings(row: dict[str, Any]) -> str:
    """A step row's precision, layout and compile switch: "bf16, channels-last, eager"."""
    precision = PRECISIONS.get(row["precision"], row["precision"])
    layout = "channels-last" if row["channels_last"] else "contiguous"
    return f"{precision}, {layout}, {'compile' if row['compile'] else 'eager'}"


def _step_row(row: dict[str, Any]) -> list[str]:
    case = f"{row['method']}, {row['backbone']}, {row['image_size']} px, batch {row['batch_size']}"
    settings = step_settings(row)
    if "framework" not in row:
        return _check_row("step", case, settings, note=row.get("skipped") or row["error"])
    framework, bare = row["framework"], row["bare"]
    return _check_row(
        "step",
        case,
        settings,
        rate=f"{_rate(framework['images_per_second'])} img/s",
        bare_rate=f"{_rate(bare['images_per_second'])} img/s",
        overhead=f"{row['overhead']:.3f}",
        memory=f"{framework['peak_memory_mib']:.0f}",
        bare_memory=f"{bare['peak_memory_mib']:.0f}",
        note=_dynamo_note(row.get("dynamo")),
    )


def _dynamo_note(dynamo: dict[str, int] | None) -> str:
    """A compiled row's frames that did not compile (they ran eagerly) and its graph breaks."""
    if dynamo is None:
        return ""
    notes = []
    if dynamo["frames_compiled"] < dynamo["frames"]:
        failed = dynamo["frames"] - dynamo["frames_compiled"]
        notes.append(f"{failed} of {dynamo['frames']} frames failed to compile: ran eagerly")
    if dynamo["graph_breaks"]:
        notes.append(f"{dynamo['graph_breaks']} graph breaks")
    return "; ".join(notes)


def _data_path_row(row: dict[str, Any]) -> list[str]:
    case = f"{row['source']}, {row['image_size']} px, batch {row['batch_size']}"
    settings = f"augment_on={row['augment_on']}, {row['where']}"
    if "views_per_second" not in row:
        why = row.get("refused") or row.get("error") or row.get("reason", "")
        return _check_row("data path", case, settings, note=why)
    ratio = row["data_over_step"]
    return _check_row(
        "data path",
        case,
        settings,
        rate=f"{_rate(row['views_per_second'])} views/s",
        memory=f"{row['peak_memory_mib']:.0f}",
        data_over_step="" if ratio is None else f"{ratio:.2f}",
        note=row["step"],
    )


def check_table(rows: list[dict[str, Any]]) -> str:
    """The GPU check's rows (``scripts/gpu_check.py``) as one markdown table."""
    render = {"cuda_tests": _cuda_tests_row, "step": _step_row, "data_path": _data_path_row}
    return markdown_table(CHECK_COLUMNS, [render[row["kind"]](row) for row in rows])
