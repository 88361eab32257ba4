"""The comparison report: every variant's evaluation and timing in one markdown table, one figure of
accuracy against size and against MACs, and per variant the few numbers users compare, as the
DVC metrics (`dvc metrics show`: one row per variant)."""
import os

from matplotlib.figure import Figure

from lib.errors import UserError
from lib.io import load_json, save_figure
from lib.timing import resolved

REQUIRED = ("test_accuracy", "params", "nonzero_params", "size_bytes", "macs")  # of every evaluation file
SUMMARY = [  # (metrics key, key in the row, decimals): the DVC metrics of one variant, accuracy, size, speed (in
    # PyTorch, and deployed in int8) and the same-budget comparisons, one row within 160 columns in `dvc metrics
    # show` (the rest, MACs and onnxruntime in float among it: comparison.md)
    ("test_acc", "test_accuracy", 2),
    ("int8_acc", "int8_test_accuracy", 2),
    ("nonzero", "nonzero_params", None),
    ("size_mb", "smallest_mb", 3),
    ("speedup", "latency_speedup", 2),
    ("int8", "int8_latency_speedup", 2),
    ("vs_dense_extra", "vs_dense_extra", 2),
    ("vs_scratch", "vs_scratch", 2),
    ("vs_random", "vs_random", 2),
]
SPEEDUPS = {"latency_speedup": "pytorch", "onnx_latency_speedup": "onnx", "int8_latency_speedup": "onnx",
            "int8_gain": "int8"}  # each against latencies in a runtime whose noise floor bounds it

TABLES = {  # title: [(header, key in the row, format)]; each table within 120 columns
    "Accuracy and size": [
        ("variant", "variant", "{}"),
        ("test acc.", "test_accuracy", "{:.2f}"),
        ("vs dense_extra", "vs_dense_extra", "{:+.2f}"),
        ("vs scratch", "vs_scratch", "{:+.2f}"),
        ("vs random", "vs_random", "{:+.2f}"),
        ("nonzero", "nonzero_params", "{:,}"),
        ("MB", "smallest_mb", "{:.2f}"),
        ("MACs (M)", "macs_m", "{:.1f}"),
        ("eff. MACs", "effective_macs_m", "{:.1f}"),
    ],
    "Deployment: CPU batch-1 speed and int8": [
        ("variant", "variant", "{}"),
        ("speedup", "latency_speedup", "{:.2f}x"),
        ("ORT", "onnx_latency_speedup", "{:.2f}x"),
        ("ORT int8", "int8_latency_speedup", "{:.2f}x"),
        ("int8 over float", "int8_gain", "{:.2f}x"),
        ("ORT acc.", "onnx_test_accuracy", "{:.2f}"),
        ("int8 acc.", "int8_test_accuracy", "{:.2f}"),
        ("int8 drop", "int8_drop", "{:+.2f}"),
        ("int8 MB", "int8_mb", "{:.2f}"),
    ],
    "Attention and faithfulness": [
        ("variant", "variant", "{}"),
        ("CAM correlation", "cam_correlation_mean", "{:.3f}"),
        ("top-k IoU", "topk_iou_mean", "{:.3f}"),
        ("same prediction", "prediction_agreement", "{:.3f}"),
        ("ROAD combined", "road_combined_mean", "{:+.4f}"),
        ("CAM-kept change", "cam_keep_change_mean", "{:+.4f}"),
        ("ROAD, original's CAMs", "original_cams_road_combined_mean", "{:+.4f}"),
    ],
}


def load_metrics(paths, keys=REQUIRED):
    """{variant: metrics dict} holding `keys`; a missing file is an error naming it and the stage that writes it."""
    out = {}
    for variant, path in paths.items():
        if not os.path.isfile(path):
            raise UserError(f"metrics file {path} for variant '{variant}' is missing; run the stage that writes "
                            "it first (dvc repro), or check the path given to the compare stage")
        out[variant] = load_json(path, "metrics file", keys)
    return out


def rows(metrics, agreement, controls=None, timing=None):
    """One row per variant (the first is the baseline) with the table's keys; `agreement` is
    gradcam.json and `timing` timing.json, keyed by variant (and its noise_floor per runtime: a speedup
    within it of 1.00x, the baseline's own aside, is listed in the row's `unresolved`); `controls` maps a
    variant to the controls it is compared with, by column ({"unstructured": {"dense_extra": "dense_extra", "random":
    "unstructured_random"}} adds vs_dense_extra and vs_random: its test accuracy minus that control's)."""
    floors = (timing or {}).get("noise_floor", {})
    first, base = next(iter(metrics.items()))
    table = []
    for variant, m in metrics.items():
        row = {**m, **(timing or {}).get(variant, {}), "variant": variant,
               "size_mb": m["size_bytes"] / 1e6, "macs_m": m["macs"] / 1e6,
               "test_accuracy_drop": base["test_accuracy"] - m["test_accuracy"], **agreement.get(variant, {})}
        row["smallest_mb"] = row["size_mb"]
        if "sparse_size_bytes" in m:
            row["sparse_mb"] = row["smallest_mb"] = m["sparse_size_bytes"] / 1e6
        if "effective_macs" in m:
            row["effective_macs_m"] = m["effective_macs"] / 1e6
        if "int8_size_bytes" in m:
            row["int8_mb"] = m["int8_size_bytes"] / 1e6
        row["unresolved"] = [key for key, runtime in SPEEDUPS.items() if variant != first and key in row
                             and runtime in floors and not resolved(row[key], floors[runtime])]
        for column, control in (controls or {}).get(variant, {}).items():
            row[f"vs_{column}"] = m["test_accuracy"] - metrics[control]["test_accuracy"]
        table.append(row)
    return table


def summary(row):
    """The DVC metrics of one row (SUMMARY): test accuracy in float and int8, nonzero parameters, size on
    disk (the sparse export where there is one), batch-1 speedup in PyTorch and in int8, and the gaps to
    the controls where they exist."""
    return {key: row[field] if digits is None else round(row[field], digits)
            for key, field, digits in SUMMARY if field in row}


def table(header, rows):
    """A markdown table: the header's cells, the rule, one line per row of cells (the project's one writer
    of markdown tables: the comparison, the seed summary, the results page)."""
    return ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)] + \
        ["| " + " | ".join(map(str, row)) + " |" for row in rows]


def markdown(rows_):
    """The comparison as markdown: one table per entry of TABLES, each under its title ("-" where a
    variant has no value)."""
    out = []
    for title, columns in TABLES.items():
        cells = [[("~" if key in row.get("unresolved", ()) else "") + fmt.format(row[key]) if key in row else "-"
                  for _, key, fmt in columns] for row in rows_]
        out += [f"## {title}", "", *table([h for h, _, _ in columns], cells), ""]
    return "\n".join(out)


def figure(table, path):
    """Test accuracy against size on disk (the sparse export where there is one) and against MACs,
    one marker per variant."""
    fig = Figure(figsize=(12, 4.5))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, label in ((axes[0], "size on disk (MB)"), (axes[1], "MACs per image (M)")):
        for row in table:
            x = row["macs_m"] if ax is axes[1] else row.get("sparse_mb", row["size_mb"])
            ax.scatter(x, row["test_accuracy"], s=80, label=row["variant"])
            ax.annotate(row["variant"], (x, row["test_accuracy"]), textcoords="offset points",
                        xytext=(6, 4), fontsize="small")
        ax.set(xlabel=label)
        ax.set_xlim(left=0)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("test accuracy (%)")
    axes[1].legend(fontsize="small")
    fig.suptitle("Accuracy against size and compute, per model variant")
    save_figure(fig, path)
