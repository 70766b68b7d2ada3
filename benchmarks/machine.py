"""What the benchmarks print about the machine they ran on, and a measured float32 matmul rate."""

from __future__ import annotations

import os
import platform
import statistics
import time


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_machine() -> str:
    import jax

    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    devices = jax.devices()
    return (
        f"machine: {cpu_model()}, {os.cpu_count()} cores, load average {load} (1/5/15 min); "
        f"{len(devices)} {devices[0].platform} device(s); Python {platform.python_version()}"
    )


def matmul_gflops(shape: tuple[int, int, int], seconds: float = 1.0) -> float:
    """Median float32 ``(m, k) @ (k, n)`` rate of a jitted product, in GFLOP/s (wall clock)."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    m, k, n = shape
    rng = np.random.default_rng(0)
    a = jnp.asarray(rng.random((m, k), np.float32))
    b = jnp.asarray(rng.random((k, n), np.float32))
    f = jax.jit(jnp.matmul)
    f(a, b).block_until_ready()
    t0 = time.perf_counter()
    f(a, b).block_until_ready()
    reps = max(1, int(seconds / 5 / max(time.perf_counter() - t0, 1e-6)))
    rates = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(reps):
            out = f(a, b)
        out.block_until_ready()
        rates.append(2 * m * k * n * reps / (time.perf_counter() - t0) / 1e9)
    return statistics.median(rates)
