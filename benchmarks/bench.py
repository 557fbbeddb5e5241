"""Benchmark convt against its peers (torch, onnxruntime, openvino; float and int8) on the
reference shapes: GF/s, % of the measured peak of the ISA tier in use, ratio to the best peer.

    python benchmarks/bench.py [--quick] [--threads N] [--shapes NAME ...] [--no-peers]

Same as ``python -m convt bench``; the code lives in ``convt._bench`` so an installed package
can run it too.
"""

from convt._bench import main

if __name__ == "__main__":
    main()
