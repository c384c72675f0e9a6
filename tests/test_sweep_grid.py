"""The defaults sweep's grids (benchmarks/sweep.py): what each run passes, how results are ranked."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))

import sweep  # noqa: E402
import userdata  # noqa: E402

ROUND3 = sweep.GRIDS["3"]


def test_round3_base_passes_no_knob_so_the_defaults_apply():
    runs = sweep.plan(["tag"], grid=ROUND3)
    base = [r for r in runs if r[4] == "base"]
    assert base and all(r[5] == {} for r in base)
    assert sweep.flags(base[0][5]) == []
    hidden = [r for r in runs if r[4] == "hidden=64"]
    assert hidden and all(sweep.flags(r[5]) == ["--hidden", "64"] for r in hidden)


def test_skip_table_leaves_configurations_out_of_a_dataset():
    runs = sweep.plan(["tag"], datasets=["2,394"])
    names = {r[4] for r in runs}
    assert names == {"base", "crf=on", "patience=0"}          # the round-1 grid's SKIP for the full WNUT-16 set


def test_round1_grid_is_unchanged_by_default():
    runs = sweep.plan(["seq2seq"])
    assert {r[4] for r in runs} >= {"base", "bidirectional=on"}
    assert all(r[5]["attention"] == "luong" for r in runs)   # every knob of the base given explicitly


def _result(results, task, label, name, final):
    path = sweep.result_path(results, task, label, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump({"final": final}, f)


def test_table_ranks_each_dataset_by_its_own_metric(tmp_path):
    res = str(tmp_path)
    # WNUT (entities): val_f1; Turkish POS: val_accuracy (no entities, so no F1)
    _result(res, "tag", "WNUT-16 450 sentences", "base", {"val_f1": 0.20})
    _result(res, "tag", "WNUT-16 450 sentences", "hidden=64", {"val_f1": 0.10})
    _result(res, "tag", "Turkish UPOS 450 sentences", "base", {"val_accuracy": 0.80})
    _result(res, "tag", "Turkish UPOS 450 sentences", "hidden=64", {"val_accuracy": 0.90})
    text = sweep.table("tag", res, ROUND3)
    assert "Turkish UPOS 450 sentences (90 CPU s, val_accuracy)" in text
    assert "base: the defaults (no knob given)" in text
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}
    assert "0.200 (1)" in rows["base"] and "0.800 (2)" in rows["base"] and rows["base"].endswith("1.50 |")
    assert "0.100 (2)" in rows["hidden=64"] and "0.900 (1)" in rows["hidden=64"]


def test_table_lower_is_better_for_bits_per_char(tmp_path):
    res = str(tmp_path)
    _result(res, "charlm", "code 0.9 MB", "base", {"val_bpc": 2.5})
    _result(res, "charlm", "code 0.9 MB", "hidden=384", {"val_bpc": 2.4})
    text = sweep.table("charlm", res, ROUND3)
    assert text.index("| hidden=384 | 2.400 (1)") < text.index("| base | 2.500 (2)")


def test_make_all_writes_only_the_files_asked_for(tmp_path, monkeypatch):
    written = []

    def writer(name):
        def write(path):
            written.append(name)
            with open(path, "w") as f:
                f.write(name)
        return write

    monkeypatch.setattr(userdata, "FILES", {"a.txt": writer("a.txt"), "b.txt": writer("b.txt")})
    paths = userdata.make_all(str(tmp_path), {"b.txt"})
    assert written == ["b.txt"] and set(paths) == {"a.txt", "b.txt"}
    assert not os.path.exists(paths["a.txt"]) and open(paths["b.txt"]).read() == "b.txt"
    userdata.make_all(str(tmp_path), {"b.txt"})   # already there: not written again
    assert written == ["b.txt"]


def test_runs_with_other_seeds_count_as_one_row_with_their_mean(tmp_path):
    res = str(tmp_path)
    for name, wer in [("base", 0.60), ("seed=1", 0.70), ("seed=2", 0.65), ("hidden=128", 0.64)]:
        _result(res, "seq2seq", "CMUdict 2k pairs", name, {"val_wer": wer})
    text = sweep.table("seq2seq", res, ROUND3)
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}
    assert "seed=1" not in rows and "seed=2" not in rows
    assert "0.650, mean of 3 seeds (2)" in rows["base"] and "0.640 (1)" in rows["hidden=128"]
