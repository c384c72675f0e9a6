"""`rnnlab` with its trainer's clock reading this process's CPU time instead of the wall clock.

    python benchmarks/cpu_clock.py --threads 1 train charlm --data code.txt --max-time 120 ...

On a machine that other jobs share, one process gets a varying fraction of a core, so a
wall-clock budget buys a varying number of steps and runs cannot be compared. With one
thread, the process's CPU time is the wall time the same run takes on an idle core: a
`--max-time` of 120 here buys what 120 s buy on a quiet machine. The sweep and the
PyTorch comparison use this clock on both sides.
"""
import sys
import time
import types


def cpu_clock_time_module():
    """A stand-in for the ``time`` module whose monotonic clocks are the process's CPU time."""
    shim = types.ModuleType("time")
    shim.__dict__.update({k: getattr(time, k) for k in dir(time) if not k.startswith("__")})
    shim.monotonic = shim.perf_counter = time.process_time
    return shim


def main(argv):
    from rnnlab import cli
    from rnnlab.train import loop

    loop.time = cpu_clock_time_module()
    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
