"""The bench's figures as text: a table for the terminal and the Markdown the README quotes."""

from __future__ import annotations

from ..runs.catalogue import display_name

TUNING_NAMES = {
    "keras_batch_norm": "Keras's own BatchNormalization instead of the fused kernel",
    "steps_per_execution_8": "`steps_per_execution=8`",
    "no_augmentation": "no augmentation",
    "batch_64": "batch 64",
    "batch_128": "batch 128",
    "xla_no_augmentation": "XLA (`jit_compile=True`), without augmentation, which XLA cannot compile",
    "mixed_bfloat16": "`mixed_bfloat16`",
}


def duration(seconds: float) -> str:
    """A duration as the README writes it: seconds, minutes (one decimal under 10) or hours."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 10:
        return f"{minutes:.1f} min"
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.0f} h"


def render(result: dict, source: str) -> str:
    """The README's speed figures as markdown, from one bench result (`source`: the file it was read from)."""
    from ..data.registry import facts

    m, run, i, mem = result["machine"], result["settings"], result["input"], result["memory_mb"]
    command = "python -m bc_helpers bench" + (" --quick" if result["quick"] else "")
    quick = " (a QUICK run: a few steps per model, so noisier than a full run)" if result["quick"] else ""
    lines = [f"Figures from `{source}`, written by `{command} --out {source}`{quick}: {m['cpu']}, "
             f"{m['cores']} cores, {m['device']}, TensorFlow {m['tensorflow']}, Keras {m['keras']}; "
             f"batch {run['batch_size']}, mixed precision {run['mixed_precision'] or 'off'}, "
             f"XLA {'on' if run['jit_compile'] else 'off'}; sustained float32 matmul peak "
             f"{result['matmul_gflops']:.0f} GFLOP/s.", ""]
    big = max(int(size) for size in result["training"]["cnn_lstm"])
    idc = facts("idc").images
    lines += [f"| model | img/s at 50 px | of peak | full IDC epoch ({idc:,}) | img/s at {big} px | "
              f"IDC epoch at {big} px | latency median / p95 | batch inference img/s |", "|---" * 8 + "|"]
    for name, sizes in result["training"].items():
        small, large, inf = sizes["50"], sizes[str(big)], result["inference"][name]
        lines.append(f"| {display_name(name)} | {small['images_per_s']:,.0f} | "
                     f"{small['peak_fraction']:.0%} | {duration(small['full_idc_epoch_s'])} | "
                     f"{large['images_per_s']:,.0f} | "
                     f"{duration(large['full_idc_epoch_s'])} | {inf['latency_ms_median']:.1f} / "
                     f"{inf['latency_ms_p95']:.1f} ms | {inf['batch_images_per_s']:,.0f} |")
    hybrid = result["training"]["cnn_lstm"]
    lines += ["", f"- **Beside the paper**: {duration(result['paper']['cnn_lstm_epoch_s'])} per CNN-LSTM epoch on "
              f"a GPU and {result['paper']['inference_ms_per_image']:.0f} ms per image. Here a CNN-LSTM epoch over all "
              f"{idc:,} patches takes {duration(hybrid['50']['full_idc_epoch_s'])} at their native 50 px and "
              f"{duration(hybrid[str(big)]['full_idc_epoch_s'])} at {big} px; one image takes "
              f"{result['inference']['cnn_lstm']['latency_ms_median']:.1f} ms.",
              f"- **Input**: the memory-mapped cache feeds {i['cache_images_per_s']:,.0f} images/s, "
              f"{i['ratio_vs_keras_loader']:.1f}x Keras's directory loader on the same images "
              f"({i['keras_loader_images_per_s']:,.0f} images/s) and {i['ratio_vs_training']:.0f}x what CNN-LSTM "
              f"training consumes; the first cache build decodes {i['cache_build_images_per_s_per_core']:,.0f} "
              f"images/s per core ({i['images']:,} images).",
              f"- **Memory**: {mem['train_peak']:,.0f} MB peak while training the CNN-LSTM on the sample; "
              f"{mem['cache_build_peak']:,.0f} MB while building the cache of the benchmarked data."]
    if "balance" in result:
        b, report = result["balance"], result["balance"]["report"]
        lines.append(f"- **Balancing**: the paper's `smote_hybrid` on {b['images_in']:,} synthetic 50 px images at "
                     f"IDC's class ratio took {b['seconds']:.0f} s ({b['cpu_seconds']:.0f} s of CPU) and peaked "
                     f"{b['peak_above_input_mb']:,.0f} MB above its {b['input_mb']:,.0f} MB input: "
                     f"{report['undersampled_to']:,} real images kept by the undersampling, {report['synthetic']:,} "
                     f"synthetic ones added, {report['dropped']:,} dropped for memory.")
    tuning = {k: v for k, v in result.get("tuning", {}).items() if k != "epoch_overhead"}
    if tuning:
        lines += ["", "| change | CNN-LSTM training, x the default | changes results? |", "|---|---|---|"]
        lines += [f"| {TUNING_NAMES.get(k, k)} | {t['ratio_vs_default']:.2f} | "
                  f"{'yes' if t['changes_results'] else 'no'} |" for k, t in tuning.items()]
        over = result["tuning"]["epoch_overhead"]
        lines.append(f"| tf.data `AUTOTUNE` prefetch instead of the fixed prefetch | short epochs "
                     f"{over['autotune_epoch_s']:.2f} s vs {over['fixed_prefetch_epoch_s']:.2f} s | no |")
    return "\n".join(lines) + "\n"


def table(result: dict) -> str:
    """The printed summary."""
    lines = [f"machine: {result['machine']['cpu']}, {result['machine']['cores']} cores, "
             f"TensorFlow {result['machine']['tensorflow']}; matmul peak {result['matmul_gflops']:.0f} GFLOP/s; "
             f"training settings {result['settings']}"]
    i = result["input"]
    lines.append(f"input: cache {i['cache_images_per_s']:,.0f} img/s = {i['ratio_vs_keras_loader']:.1f}x Keras's "
                 f"loader ({i['keras_loader_images_per_s']:,.0f} img/s), {i['ratio_vs_training']:.0f}x CNN-LSTM "
                 f"training; first build {i['cache_build_images_per_s_per_core']:,.0f} img/s per core")
    lines.append(f"{'model':<10}{'size':>6}{'img/s':>10}{'GFLOP/img':>11}{'of peak':>9}{'IDC epoch':>11}"
                 f"{'lat ms':>8}{'p95':>7}")
    for name, per_size in result["training"].items():
        for size, t in per_size.items():
            inf = result["inference"][name] if size == "50" else None
            lat = f"{inf['latency_ms_median']:8.2f}{inf['latency_ms_p95']:7.2f}" if inf else ""
            lines.append(f"{name:<10}{size:>6}{t['images_per_s']:>10,.0f}{t['flops_per_image'] / 1e9:>11.3f}"
                         f"{t['peak_fraction']:>9.0%}{t['full_idc_epoch_s'] / 60:>9.1f} m{lat}")
    for label, t in result.get("tuning", {}).items():
        if label == "epoch_overhead":
            lines.append(f"tuning: short epochs {t['fixed_prefetch_epoch_s']:.2f} s with the fixed prefetch, "
                         f"{t['autotune_epoch_s']:.2f} s with tf.data AUTOTUNE")
        else:
            changes = "changes results" if t["changes_results"] else "same results"
            lines.append(f"tuning: cnn_lstm {label:<22}{t['images_per_s']:>8,.0f} img/s "
                         f"{t['ratio_vs_default']:>5.2f}x the default ({changes})")
    m = result["memory_mb"]
    lines.append(f"memory: training peak {m['train_peak']:,.0f} MB, cache build peak {m['cache_build_peak']:,.0f} MB")
    b = result["balance"]
    lines.append(f"balance: smote_hybrid on {b['images_in']:,} images of 50 px in {b['seconds']:.0f} s "
                 f"({b['cpu_seconds']:.0f} s of CPU), peak "
                 f"{b['peak_above_input_mb']:,.0f} MB above the {b['input_mb']:,.0f} MB input, {b['images_out']:,} "
                 f"images out, {b['report']['dropped']} dropped")
    lines.append(f"paper: {result['paper']['cnn_lstm_epoch_s'] / 3600:.0f} h per CNN-LSTM epoch (GPU), "
                 f"{result['paper']['inference_ms_per_image']:.0f} ms per image")
    return "\n".join(lines)
