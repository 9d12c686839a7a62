# SPDX-License-Identifier: Apache-2.0
"""Turns the RESULT lines of device_bench and torch_eager.py (one file, bench/cuda/run.sh) into issue 5's table.

Usage: python3 report.py RESULTS [--check]   (--check: exit 1 when a target of issue 5 is missed)
"""
import sys


def load(path):
    values, header = {}, []
    with open(path) as f:
        for line in f:
            if line.startswith("RESULT "):
                _, key, value, *_ = line.split()
                values[key] = float(value)
            elif line.startswith("#"):
                header.append(line[1:].strip())
    return values, header


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    v, header = load(sys.argv[1])
    check = "--check" in sys.argv[2:]
    get = v.get
    lines = [f"_{h}_  " for h in header]
    roof = max((get(k) for k in ("device.copy.cudaMemcpy", "device.copy.sinter_copy_") if get(k)), default=None)
    if roof:
        lines.append(f"Device copy bandwidth (read + write): cudaMemcpy {get('device.copy.cudaMemcpy', float('nan')):.0f}"
                     f" GB/s, sinter copy_ {get('device.copy.sinter_copy_', float('nan')):.0f} GB/s, PyTorch copy_ "
                     f"{get('torch.copy.torch_copy_', float('nan')):.0f} GB/s.")
        lines.append("")
    lines += ["| workload | sinter | PyTorch eager | speed-up (PyTorch / sinter) | sinter roofline |",
              "| --- | ---: | ---: | ---: | ---: |"]
    missed = []
    ew = sorted({k.split(".")[1] for k in v if k.startswith("device.eltwise_")})
    for w in ew:
        s, t = get(f"device.{w}.ms"), get(f"torch.{w}.ms")
        bw = get(f"device.{w}.bandwidth")
        frac = bw * 1e9 / (roof * 1e9) if roof and bw else None
        label = w.replace("eltwise_forward_backward_", "forward + backward, n = ").replace(
            "eltwise_forward_", "forward, n = ")
        speed = f"{t / s:.2f}x" if s and t else "n/a"
        lines.append(f"| `sigmoid(a*x + b) * tanh(x)` {label} | {s:.3f} ms ({bw:.3g} GB/s) | "
                     f"{t if t else float('nan'):.3f} ms | {speed} | {frac:.2f} of copy |" if frac else
                     f"| {label} | {s:.3f} ms | n/a | {speed} | n/a |")
        if "backward" in w:
            if frac is not None and frac < 0.8:
                missed.append(f"{w}: {frac:.2f} of the copy bandwidth (target 0.8)")
            if s and t and t / s < 3:
                missed.append(f"{w}: {t / s:.2f}x PyTorch eager (target 3x)")
            if not t:
                missed.append(f"{w}: no PyTorch figure")
    s, t = get("device.statement_16.us"), get("torch.statement_16.us")
    if s:
        lines.append(f"| one statement on 16 floats (forward) | {s:.2f} us | "
                     f"{t if t else float('nan'):.2f} us | {(t / s if t else float('nan')):.2f}x | latency |")
    for key in sorted({k.split(".")[2] for k in v if k.startswith("device.train.")}):
        s, t = get(f"device.train.{key}.samples_per_s"), get(f"torch.train.{key}.samples_per_s")
        gf = get(f"device.train.{key}.gflops")
        ratio = s / t if s and t else None
        lines.append(f"| training step {key} (SGD, momentum) | {s:.0f} samples/s | "
                     f"{t if t else float('nan'):.0f} samples/s | {ratio if ratio else float('nan'):.2f}x | "
                     f"{gf:.0f} GFLOP/s |")
        if ratio is not None and ratio < 1:
            missed.append(f"{key}: {ratio:.2f}x PyTorch eager's throughput (target 1x)")
    print("\n".join(lines))
    if missed:
        print("\nIssue 5 targets missed: " + "; ".join(missed))
    return 1 if check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
