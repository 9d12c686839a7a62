# SPDX-License-Identifier: Apache-2.0
"""device_bench's workloads in PyTorch eager on the same GPU (bench/cuda/run.sh runs both in one command).

Prints RESULT lines with device_bench's keys under "torch." instead of "device.". Timing as device_bench: a warm-up,
a batch calibrated to at least 20 ms with the device drained before and after, the median of 5 batches.
Usage: python3 torch_eager.py [--n N] [--batch B]
"""
import argparse
import statistics
import sys
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=64 << 20)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        print("torch_eager: PyTorch is not installed; nothing measured")
        return 77
    if not torch.cuda.is_available():
        print("torch_eager: PyTorch sees no GPU; nothing measured")
        return 77
    dev = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = False  # sinter's default: full float32 products
    torch.backends.cudnn.allow_tf32 = False

    def seconds_per_call(f):
        def batch(reps):
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            for _ in range(reps):
                f()
            torch.cuda.synchronize()
            return time.perf_counter() - t0

        batch(1)
        reps = 1
        s = batch(reps)
        while s < 0.02 and reps < (1 << 22):
            reps *= 10 if s < 0.002 else 2
            s = batch(reps)
        return statistics.median(batch(reps) / reps for _ in range(5))

    def result(key, value, unit):
        print(f"RESULT torch.{key} {value:.6g} {unit}", flush=True)

    print(f"# torch_eager: PyTorch {torch.__version__} on {torch.cuda.get_device_name(0)}, n = {args.n}, "
          f"batch {args.batch}")
    n = args.n
    src = torch.randn(n, device=dev)
    dst = torch.zeros(n, device=dev)
    s = seconds_per_call(lambda: dst.copy_(src))
    result("copy.torch_copy_", 8.0 * n / s / 1e9, "GB/s")

    x, a, b, g = (torch.randn(n, device=dev) for _ in range(4))
    for t in (x, a, b):
        t.requires_grad_()

    def forward():
        with torch.no_grad():
            torch.sigmoid(a * x + b) * torch.tanh(x)

    def forward_backward():
        (torch.sigmoid(a * x + b) * torch.tanh(x)).backward(g)

    forward_backward()  # the gradients exist from here on, as in device_bench
    f = seconds_per_call(forward)
    result(f"eltwise_forward_{n}.ms", f * 1e3, "ms")
    result(f"eltwise_forward_{n}.bandwidth", 16.0 * n / f / 1e9, "GB/s")
    fb = seconds_per_call(forward_backward)
    result(f"eltwise_forward_backward_{n}.ms", fb * 1e3, "ms")
    result(f"eltwise_forward_backward_{n}.bandwidth", 56.0 * n / fb / 1e9, "GB/s")

    xs, as_, bs = (torch.randn(16, device=dev) for _ in range(3))
    s = seconds_per_call(lambda: torch.sigmoid(as_ * xs + bs) * torch.tanh(xs))
    result("statement_16.us", s * 1e6, "us")

    nn = torch.nn
    mlp = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    lenet = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                          nn.Linear(84, 10))
    flops = {"mlp": 3.0 * 2.0 * (784 * 256 + 256 * 128 + 128 * 10),
             "lenet5": 3.0 * 2.0 * (28 * 28 * 6 * 25 + 10 * 10 * 16 * 150 + 400 * 120 + 120 * 84 + 84 * 10)}
    for name, model, shape in (("mlp", mlp, (args.batch, 784)), ("lenet5", lenet, (args.batch, 1, 28, 28))):
        model = model.to(dev)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        inp = torch.randn(*shape, device=dev)
        target = torch.randint(0, 10, (args.batch,), device=dev)

        def step():
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(inp), target)
            loss.backward()
            opt.step()

        s = seconds_per_call(step)
        key = f"train.{name}_b{args.batch}"
        result(f"{key}.ms", s * 1e3, "ms")
        result(f"{key}.samples_per_s", args.batch / s, "samples/s")
        result(f"{key}.gflops", flops[name] * args.batch / s / 1e9, "GFLOP/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
