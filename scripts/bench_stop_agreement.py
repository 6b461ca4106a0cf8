"""What the per-step stop agreement costs under DDP, timed in 2 processes on this machine: a blocking
1-element all-reduce on the CPU (gloo) group (`distributed.any_rank`), and what the trainer does
(`distributed.Agreement`: the all-reduce is read one step later, so it overlaps the step) beside a simulated
GPU-bound step (the host waits). Printed next to the step times of the GPU targets.

    python scripts/bench_stop_agreement.py [--world 2] [--calls 2000] [--step-ms 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch.distributed as dist
import torch.multiprocessing as mp

from crelu_repro.core.distributed import Agreement, Dist, any_rank


def wait(seconds: float) -> None:
    """A step as the host sees it when the GPU is the bottleneck: waiting (busy-waiting here would starve
    gloo's threads on a 2-core machine, which a GPU host with its many cores does not)."""
    time.sleep(seconds)


def per_call(fn, calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def worker(rank: int, world: int, calls: int, step_s: float, port: int, out) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    ctx = Dist(rank, world, rank, dist.new_group(backend="gloo"))
    agree = Agreement(ctx)
    per_call(lambda: any_rank(False, ctx), 100)  # warm-up
    blocking = per_call(lambda: any_rank(False, ctx), calls)
    plain = per_call(lambda: wait(step_s), calls // 4)
    overlapped = per_call(lambda: (wait(step_s), agree(False)), calls // 4)
    agree.settle()
    if rank == 0:
        out.put(
            [statistics.median(x) for x in (blocking, plain, overlapped)]
            + [sorted(blocking)[int(0.99 * calls)]]
        )
    dist.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=int, default=2)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--step-ms", type=float, default=2.0, help="simulated step (host waiting)")
    parser.add_argument("--port", type=int, default=29533)
    a = parser.parse_args()
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    args = (a.world, a.calls, a.step_ms / 1e3, a.port, out)
    mp.start_processes(worker, args, nprocs=a.world, start_method="spawn")
    blocking, plain, overlapped, p99 = out.get()
    print(f"{a.world} processes, gloo on this host ({os.cpu_count()} cores):")
    print(f"  blocking all-reduce: median {blocking * 1e6:.0f} us, p99 {p99 * 1e6:.0f} us")
    cost = overlapped - plain
    print(
        f"  per-step agreement as the trainer does it, over a {a.step_ms:g} ms step: {cost * 1e6:+.0f} us "
        f"({100 * cost / plain:+.2f}%)"
    )
    for name, step_ms in (("ConvPool-CNN-C crelu b512 at the 75,000 img/s target", 512 / 75_000 * 1e3),
                          ("ConvPool-CNN-C crelu b128 at ~46,000 img/s", 128 / 46_000 * 1e3)):  # fmt: skip
        share = 100 * blocking * 1e3 / step_ms
        print(f"  a blocking check would add {share:.1f}% to a {step_ms:.1f} ms step ({name})")


if __name__ == "__main__":
    main()
