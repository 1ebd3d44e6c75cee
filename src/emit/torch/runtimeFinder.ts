/**
 * The lines at the top of an emitted model.py that find the PyTorch runtime (python/unetc_torch/)
 * without PYTHONPATH: an importable unetc_torch, else $UNETC_TORCH_RUNTIME, else the folder named
 * (relative to model.py) in a \`.unetc-runtime\` file beside it (run folders get one), else the first folder
 * above the file (then above the working directory) that holds python/unetc_torch or
 * node_modules/unetc/python/unetc_torch (the package, installed or checked out), else the package of
 * the \`unetc\` command on PATH.
 */
export const RUNTIME_FINDER = `import os
import sys


def _find_runtime():
    try:
        import unetc_torch  # noqa: F401

        return
    except ImportError:
        pass
    import shutil

    here = os.path.dirname(os.path.abspath(__file__))
    env = os.environ.get("UNETC_TORCH_RUNTIME")
    hint = os.path.join(here, ".unetc-runtime")
    if not env and os.path.isfile(hint):
        with open(hint) as f:
            env = os.path.normpath(os.path.join(here, f.read().strip()))
    cli = shutil.which("unetc")
    starts = [here, os.getcwd()] + ([os.path.dirname(os.path.realpath(cli))] if cli else [])
    for start in starts:
        d = start
        while True:
            for cand in ([env] if env else []) + [os.path.join(d, "python"), os.path.join(d, "node_modules", "unetc", "python")]:
                if os.path.isfile(os.path.join(cand, "unetc_torch", "__init__.py")):
                    sys.path.insert(0, cand)
                    return
            if os.path.dirname(d) == d:
                break
            d = os.path.dirname(d)
    raise ImportError("cannot find the unetc PyTorch runtime (python/unetc_torch): set UNETC_TORCH_RUNTIME to the folder that holds unetc_torch")


_find_runtime()
`;
