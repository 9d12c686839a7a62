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


def fmt(value, spec, unit=""):
    """value formatted with spec and unit, or n/a where the run has no such figure."""
    return "n/a" if value is None else f"{value:{spec}}{unit}"


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    v, header = load(sys.argv[1])
    check = "--check" in sys.argv[2:]
    get = v.get
    lines = [f"_{h}_  " for h in header]
    roof = max((get(k) for k in ("device.copy.cudaMemcpy", "device.copy.sinter_copy_") if get(k)), default=None)
    lines += [f"Device copy bandwidth (read + write): cudaMemcpy {fmt(get('device.copy.cudaMemcpy'), '.0f', ' GB/s')}, "
              f"sinter copy_ {fmt(get('device.copy.sinter_copy_'), '.3g', ' GB/s')}, PyTorch copy_ "
              f"{fmt(get('torch.copy.torch_copy_'), '.3g', ' GB/s')}.", "",
              "| workload | sinter | PyTorch eager | speed-up (PyTorch / sinter) | sinter roofline |",
              "| --- | ---: | ---: | ---: | ---: |"]
    missed = []
    for w in sorted({k.split(".")[1] for k in v if k.startswith("device.eltwise_")}):
        s, t, bw = get(f"device.{w}.ms"), get(f"torch.{w}.ms"), get(f"device.{w}.bandwidth")
        frac = bw / roof if roof and bw else None
        speed = t / s if s and t else None
        label = w.replace("eltwise_forward_backward_", "forward + backward, n = ").replace(
            "eltwise_forward_", "forward, n = ")
        lines.append(f"| `sigmoid(a*x + b) * tanh(x)` {label} | {fmt(s, '.3f', ' ms')} ({fmt(bw, '.3g', ' GB/s')}) | "
                     f"{fmt(t, '.3f', ' ms')} | {fmt(speed, '.2f', 'x')} | {fmt(frac, '.2f', ' of copy')} |")
        if "backward" in w:
            if frac is not None and frac < 0.8:
                missed.append(f"{w}: {frac:.2f} of the copy bandwidth (target 0.8)")
            if speed is None:
                missed.append(f"{w}: no PyTorch figure")
            elif speed < 3:
                missed.append(f"{w}: {speed:.2f}x PyTorch eager (target 3x)")
    s, t = get("device.statement_16.us"), get("torch.statement_16.us")
    if s:
        lines.append(f"| one statement on 16 floats (forward) | {fmt(s, '.2f', ' us')} | {fmt(t, '.2f', ' us')} | "
                     f"{fmt(t / s if t else None, '.2f', 'x')} | latency |")
    for key in sorted({k.split(".")[2] for k in v if k.startswith("device.train.")}):
        s, t = get(f"device.train.{key}.samples_per_s"), get(f"torch.train.{key}.samples_per_s")
        ratio = s / t if s and t else None
        lines.append(f"| training step {key} (SGD, momentum) | {fmt(s, '.0f', ' samples/s')} | "
                     f"{fmt(t, '.0f', ' samples/s')} | {fmt(ratio, '.2f', 'x')} | "
                     f"{fmt(get(f'device.train.{key}.gflops'), '.0f', ' GFLOP/s')} |")
        if ratio is not None and ratio < 1:
            missed.append(f"{key}: {ratio:.2f}x PyTorch eager's throughput (target 1x)")
    print("\n".join(lines))
    if missed:
        print("\nIssue 5 targets missed: " + "; ".join(missed))
    return 1 if check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
