"""A run directory: never destroy an earlier run by accident.

``claim_run_dir(out, overwrite)`` is called before a new run writes anything. A
directory that holds a run (any of RUN_FILES) is refused unless ``overwrite``; then
the old run's files move into ``OUT/.previous-run`` and stay there until the new
run has saved its first model (``discard_previous_run``), or come back if the new
run fails before that (``restore_previous_run``).
"""
import os
import shutil

RUN_FILES = ("config.json", "args.json", "model.safetensors", "metrics.jsonl", "metrics.json", "resume.safetensors")
PREVIOUS = ".previous-run"


def run_files(out):
    return [f for f in RUN_FILES if os.path.exists(os.path.join(out, f))]


def free_name(out):
    """``OUT-2``, ``OUT-3``, ...: the first name that does not exist yet."""
    base, n = out.rstrip("/\\") or out, 2
    while os.path.exists(f"{base}-{n}"):
        n += 1
    return f"{base}-{n}"


def check_parent_dir(path, flag):
    """The nearest existing folder above ``path`` must be a folder (not a file), so ``path`` can be created."""
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise NotADirectoryError(20, f"is not a directory, so {flag} cannot be created below it", parent)


def check_run_dir(out, overwrite=False):
    """Refuse (changing nothing) an --out that is a file or holds a run the user did not ask to replace."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise NotADirectoryError(20, "exists and is not a directory (give --out a folder)", out)
    check_parent_dir(out, "--out")
    found = run_files(out) if os.path.isdir(out) else []
    if found and not overwrite:
        raise ValueError(f"{out} already holds a run ({', '.join(found)}); continue it with `rnnlab train --resume "
                         f"{out}`, replace it with --overwrite (its files are kept until the new run has a "
                         f"model), or choose a new --out such as {free_name(out)}")
    return found


def claim_run_dir(out, overwrite=False):
    found = check_run_dir(out, overwrite)
    os.makedirs(out, exist_ok=True)
    if not found:
        return
    previous = os.path.join(out, PREVIOUS)
    if os.path.isdir(previous) and "model.safetensors" not in found:
        # an earlier --overwrite was stopped before its first model: its files are the ones to drop
        for f in found:
            os.unlink(os.path.join(out, f))
        return
    shutil.rmtree(previous, ignore_errors=True)
    os.makedirs(previous)
    moved = []
    try:
        for f in found:
            os.replace(os.path.join(out, f), os.path.join(previous, f))
            moved.append(f)
    except OSError:
        for f in moved:
            os.replace(os.path.join(previous, f), os.path.join(out, f))
        shutil.rmtree(previous, ignore_errors=True)
        raise


def discard_previous_run(out):
    previous = os.path.join(out, PREVIOUS)
    if os.path.isdir(previous):
        shutil.rmtree(previous, ignore_errors=True)


def restore_previous_run(out):
    """Put an overwritten run's files back (the new run failed before it saved a model)."""
    previous = os.path.join(out, PREVIOUS)
    if not os.path.isdir(previous) or os.path.exists(os.path.join(out, "model.safetensors")):
        return
    for f in RUN_FILES:
        if os.path.exists(os.path.join(out, f)):
            os.unlink(os.path.join(out, f))
    for f in os.listdir(previous):
        os.replace(os.path.join(previous, f), os.path.join(out, f))
    os.rmdir(previous)
