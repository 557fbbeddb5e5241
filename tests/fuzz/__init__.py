"""Fuzz of the public API with mostly-invalid arguments, every call isolated in a worker process.

APIs (``settings.APIS``; a case id starts with one): transposed convolution ``f``
(``convt.conv_transpose{1,2,3}d``), ``m`` (``convt.ConvTranspose{1,2,3}d``), ``qf``
(``convt.quantized.functional.conv_transpose{1,2,3}d``), ``qm``
(``convt.quantized.ConvTranspose{1,2,3}d``); forward convolution ``cf`` (``convt.conv{1,2,3}d``),
``cm`` (``convt.Conv{1,2,3}d``, every ``padding_mode``), ``cqf``
(``convt.quantized.functional.conv{1,2,3}d``), ``cqm`` (``convt.quantized.Conv{1,2,3}d``).

How it works
------------
* A seeded NumPy generator draws each case (``cases.gen_case(api, nd, index)``): a small valid
  problem, then 0-3 mutations of its arguments to edge values: 0, -1, 2**31, 2**63, floats,
  bools, None, strings, nested lists, NumPy scalars, arrays of the wrong dtype / rank / shape,
  Fortran-ordered, strided, reversed, unaligned, read-only, broadcast or empty arrays, NaN/inf,
  ``output_size`` and ``out=`` of the wrong length / shape / dtype, ``num_threads`` 0/-1/huge,
  scales 0/negative/NaN/1e-45/1e38 and zero points out of range; forward calls also get
  ``padding`` strings ('same' with a stride, 'SAME', 'full', ...), weights in the transposed
  layout or with C_out not divisible by groups, and padding modes whose limits the padding
  breaks (reflect: pad < I, circular: pad <= I).  About a third of the cases stay valid (many
  in unusual but accepted forms) so that their results get checked.
* A case is a few Python statements (``x = ...``, ``y = convt.conv_transpose2d(x, w, ...)``)
  and what an independent model of the documented argument rules (README, docstrings) expects:
  ``valid`` - must return the reference result; ``invalid`` - must raise ValueError/TypeError
  whose message names one of the offending arguments (or MemoryError); ``unsure`` (an
  undocumented corner) - either, but a result must be right and an error must name the argument.
* The statements run in long-lived worker processes (``multiprocessing`` 'spawn', which import
  convt; this process never does).  A worker runs a case, compares the result with
  ``reference.py`` (float64; tolerance 1e-5 * the same convolution of |x|, |w|, |b|, NaN/inf
  where the definition puts them) or ``reference_q.py`` (exact int64 sum + requantization, bit
  for bit, both requant modes) -- forward calls with ``reference_conv.py`` (``conv_forward_ref``,
  ``accumulate_forward``; ``conv_forward_naive`` when the padded input is too big to build) and
  the same requantization -- checks that the arguments were not modified, repeats a valid
  call on another number of threads into an ``out=`` view with guard bytes on both sides
  (results must be bitwise equal and nothing written outside the output), and sends back a
  verdict.  Layer cases sometimes call the layer once before (another batch size) and change
  its weights / scale / zero point after that call.  A worker that dies is a crash, one that
  does not answer within ``CONVT_FUZZ_TIMEOUT`` seconds (six times that when the output may be
  huge) a hang; the case is then run once more in a fresh worker (to tell whether it crashes
  on its own: if not, ``--replay`` with the listed history reruns what that worker ran) and
  the next case gets a new worker.  Workers
  run with a 3 GiB address-space limit on Linux, so huge allocations end in MemoryError.
* Failures are grouped into classes (kind, exception type, message with the numbers stripped)
  and the assertion message lists each class with its shortest reproducer.  ``EXAMPLES`` are
  fixed cases for the failure classes long runs found; they run in CI every time.

Budget: ``CONVT_FUZZ_CASES`` (default 500, split over the eight APIs) cases, deterministic for a
given ``CONVT_FUZZ_SEED``; a few seconds on 2 cores.  ``tests/test_fuzz.py`` holds the pytest
tests.  Long local runs (``python -m fuzz ...`` in tests/ is the same as ``python tests/fuzz``)::

    CONVT_FUZZ_CASES=50000 python -m pytest -q tests/test_fuzz.py
    python tests/fuzz --cases 20000 --workers 4          # same, as a script
    python tests/fuzz --show qf2:17                      # print one case
    python tests/fuzz --run qf2:17                       # run it here, with traceback
    python tests/fuzz --cases 20000 --skip-tag channels=0  # leave out a known class
    python tests/fuzz --cases 20000 --apis cf,cm,cqf,cqm  # the forward APIs only

Modules: ``settings`` (environment), ``values`` (array recipes, source rendering);
the validity model: ``rules``, ``quant_rules``, ``model``, and for the forward APIs
``conv_rules``, ``conv_model``; the generator: ``edges``, ``generator``, ``calls``,
``float_cases``, ``quant_cases``, ``conv_cases`` (forward), ``cases``; the workers: ``worker``,
``pool``; the checks (run in a worker): ``judge``, ``float_results``, ``quant_results``,
``conv_results`` (forward), ``verdict``; ``report`` (failure classes), ``examples`` (fixed
cases), ``cli`` and ``__main__`` (the command line).  No module here is named test_*: pytest collects nothing in
this package, and the workers never import pytest.
"""
