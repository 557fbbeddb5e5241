"""Build the compiled engine; OpenMP when the compiler has it, a serial build otherwise.

Set CONVT_REQUIRE_OPENMP=1 (wheel builds do) to make a missing OpenMP a build error instead;
CONVT_DISABLE_OPENMP=1 builds the serial engine on purpose (to test that fallback).
CONVT_SANITIZE=1 (test build only, tools/check_sanitizers.sh) builds with ASan + UBSan at -O1 -g;
-fno-wrapv comes after Python's own -fwrapv so signed overflow is reported, not hidden.
The package baseline is the compiler's default ISA: AVX2/FMA kernels carry per-function
target attributes and are chosen at import, so never target the build machine's own CPU here.
"""

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))


def openmp_flags(compiler):
    """(compile, link) flags for OpenMP with this compiler, or None when it has none."""
    ctype = compiler.compiler_type
    if ctype == "msvc":
        return ["/openmp"], []
    if sys.platform == "darwin":
        prefix = os.environ.get("CONVT_LIBOMP_PREFIX", "/opt/homebrew/opt/libomp")
        return (["-Xpreprocessor", "-fopenmp", f"-I{prefix}/include"],
                [f"-L{prefix}/lib", f"-Wl,-rpath,{prefix}/lib", "-lomp"])
    return ["-fopenmp"], ["-fopenmp"]


def probe_openmp(compiler, cflags, lflags):
    """Compile and link a tiny OpenMP program with these flags."""
    src = textwrap.dedent("""
        #include <omp.h>
        int main(void) { int n = 0;
        #pragma omp parallel reduction(+:n)
          n += 1;
        return n > 0 ? 0 : 1; }
    """)
    tmp = tempfile.mkdtemp()
    try:
        path = os.path.join(tmp, "probe.c")
        with open(path, "w") as f:
            f.write(src)
        objs = compiler.compile([path], output_dir=tmp, extra_postargs=cflags)
        compiler.link_executable(objs, "probe", output_dir=tmp, extra_postargs=lflags)
        return True
    except Exception:
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class BuildExt(build_ext):
    def build_extensions(self):
        ctype = self.compiler.compiler_type
        base = ["/O2"] if ctype == "msvc" else ["-O3", "-g0", "-fno-math-errno", "-std=c11"]
        if os.environ.get("CONVT_SIMDE", "0") == "1":
            # Test build only (tools/check_x86_tiers.sh): every x86 tier through SIMDe's
            # portable intrinsics, runnable on any x86-64 CPU.
            base = base + ["-DCONVT_USE_SIMDE"]
        san = []
        if os.environ.get("CONVT_SANITIZE", "0") == "1":
            # Test build only (tools/check_sanitizers.sh); extra_compile_args follow Python's
            # CFLAGS on the command line, so -O1 and -fno-wrapv override its -O3 and -fwrapv.
            san = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
                   "-fno-omit-frame-pointer", "-fno-wrapv"]
            base = [f for f in base if f not in ("-O3", "-g0")] + ["-O1", "-g"] + san
        cflags, lflags = openmp_flags(self.compiler)
        have_omp = (os.environ.get("CONVT_DISABLE_OPENMP", "0") != "1"
                    and probe_openmp(self.compiler, cflags, lflags))
        if not have_omp:
            if os.environ.get("CONVT_REQUIRE_OPENMP", "0") == "1":
                raise RuntimeError("CONVT_REQUIRE_OPENMP=1 but the compiler cannot build OpenMP code")
            print("convt: OpenMP not available; building a serial engine", file=sys.stderr)
            cflags, lflags = [], []
        for ext in self.extensions:
            ext.extra_compile_args = base + cflags + ext.extra_compile_args
            ext.extra_link_args = lflags + san + ext.extra_link_args
            ext.define_macros.append(("CONVT_BUILD_FLAGS", '"%s"' % " ".join(base + cflags)))
            ext.define_macros.append(("CONVT_BUILD_COMPILER", '"%s"' % ctype))
        super().build_extensions()


ext_kwargs = dict(
    include_dirs=[os.path.join(HERE, "include"), np.get_include()],
    # every header: setuptools rebuilds a module when any of them changes
    depends=sorted(glob.glob(os.path.join("include", "convt", "**", "*.h"), recursive=True)),
    libraries=[] if sys.platform == "win32" else ["m"],  # nearbyintf
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
)
extensions = [
    Extension("convt._engine", ["src/convt/_engine.pyx"], **ext_kwargs),
    Extension("convt._probe", ["src/convt/_probe.pyx"], **ext_kwargs),
]
if os.environ.get("CONVT_SIMDE", "0") == "1":
    extensions = extensions[:1]  # the SIMDe test build checks the engine, not the probes

setup(
    ext_modules=cythonize(extensions, include_path=["src"],
                          compiler_directives={"language_level": 3}),
    cmdclass={"build_ext": BuildExt},
)
