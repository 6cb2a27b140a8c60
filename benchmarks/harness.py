"""What the benchmark scripts share: their command line and the devices they measure on."""

import argparse
import os

import torch


def configure(description: str) -> tuple[int, list[torch.device]]:
    """Parse --quick and --threads, set torch up; the size divisor and the devices to measure."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sets")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    return (4 if args.quick else 1), devices
