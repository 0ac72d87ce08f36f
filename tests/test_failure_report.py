"""The failure experiment's tables and conclusion: every sentence from a stated test, on hand-made
suites where each part of the paper's pattern does and does not appear, complete or not."""
import pytest
from helpers import run_record

from mdseg.study.failure_report import failure_conclusion, table3_markdown, weights_markdown
from mdseg.study.report import summarize

BASE = (0.50, 0.51, 0.49)
SAME = (0.51, 0.49, 0.50)
WORSE = (0.40, 0.42, 0.38)  # paired with BASE: differences -0.10, -0.09, -0.11
BETTER = (0.60, 0.62, 0.58)
COLLAPSED = (0.02, 0.01, 0.015)


NAIVE_WEIGHTS = {"naive-joint": 0.15, "naive-joint@w=0.01": 0.01, "naive-joint@w=0.05": 0.05, "naive-joint@w=0.5": 0.5}


def _summary(recipes: dict[str, tuple[float, ...]], baseline: bool = True) -> dict:
    def result(m, seed, name):
        about = {"recipe": "naive-joint", "depth_weight": NAIVE_WEIGHTS[name]} if name in NAIVE_WEIGHTS else {}
        return run_record(seed, m, name, budget={"epochs": 4, "seg_epochs": 4, "depth_epochs": 0}, fg_mIoU=m, iIoU=m,
                          acc=0.9, **about)

    recipes = ({"single-decoder": BASE} if baseline else {}) | recipes
    return summarize({name: [result(m, i, name) for i, m in enumerate(values)] for name, values in recipes.items()})


def _line(lines, start):
    found = [line for line in lines if line.startswith(start)]
    assert len(found) == 1, (start, lines)
    return found[0]


@pytest.mark.parametrize("normalised, metric, expected", [
    (SAME, WORSE, "falls below the baseline with metric depth targets and not with normalised: the depth target's units"),
    (WORSE, WORSE, "falls below the baseline with every depth target tried, so the units are not needed"),
    (SAME, SAME, "does not fall below the baseline by the test with any depth target tried (normalised, metric)"),
])
def test_the_units_hypothesis_is_judged_by_the_test(normalised, metric, expected):
    lines = failure_conclusion({"normalised": _summary({"naive-joint": normalised}),
                                "metric": _summary({"naive-joint": metric})})
    assert expected in _line(lines, "Loss scale (units):")
    assert "paired over 3 seeds" in _line(lines, "[metric depth] Naive joint at the paper's weight:")


def test_the_weight_hypothesis_names_the_weights_that_fail():
    sweep = {"naive-joint@w=0.01": SAME, "naive-joint@w=0.05": SAME, "naive-joint": SAME, "naive-joint@w=0.5": WORSE}
    lines = failure_conclusion({"normalised": _summary(sweep), "metric": _summary({k: SAME for k in sweep})})
    assert "below the baseline at w = 0.5 and not at the others (w = 0.01, 0.05, 0.15, 0.5)" in \
        _line(lines, "Weight (normalised depth):")
    assert "not below the baseline at any weight tried" in _line(lines, "Weight (metric depth):")
    lines = failure_conclusion({"normalised": _summary({"naive-joint@w=0.05": WORSE, "naive-joint": WORSE}),
                                "metric": _summary({"naive-joint": SAME})})
    assert "below the baseline at every weight tried" in _line(lines, "Weight (normalised depth):")
    assert not [line for line in lines if line.startswith("Weight (metric")]  # one weight is no sweep
    lines = failure_conclusion({"metric": _summary({"naive-joint": SAME, "naive-joint@w=0.05": SAME,
                                                    "naive-joint@w=0.5": (0.2,)})})
    assert _line(lines, "Weight (metric depth):").endswith(
        "not below the baseline at any weight tried (w = 0.05, 0.15); w = 0.5 has one seed, not tested.")


# scipy warns when one side of a t-test (here the flat baseline) has no variance
@pytest.mark.filterwarnings("ignore:Precision loss:RuntimeWarning")
def test_the_weight_hypothesis_says_why_a_weight_was_not_tested():
    flat = (0.5, 0.5, 0.5)  # the baseline and w = 0.01 without spread: no test applies to that weight
    lines = failure_conclusion({"metric": _summary({"single-decoder": flat, "naive-joint@w=0.01": flat,
                                                    "naive-joint": SAME, "naive-joint@w=0.05": SAME,
                                                    "naive-joint@w=0.5": (0.2,)}, baseline=False)})
    assert _line(lines, "Weight (metric depth):").endswith(
        "(w = 0.05, 0.15); w = 0.5 has one seed, not tested; w = 0.01 has no spread over seeds, not tested.")


def test_collapse_and_best_recipe_are_read_from_the_tests():
    paper_like = {"naive-joint": WORSE, "depth-first/copy/b": COLLAPSED, "depth-first/no-copy/b": COLLAPSED,
                  "depth-first/copy/s->b": BETTER}
    mild = {"naive-joint": SAME, "depth-first/copy/b": WORSE, "depth-first/copy/s->b": WORSE}
    lines = failure_conclusion({"normalised": _summary(paper_like), "metric": _summary(mild)})
    assert "2 of 2 depth-first/b recipes fall to less than half" in _line(lines, "Collapse (normalised depth):")
    assert "0 of 1 depth-first/b recipes" in _line(lines, "Collapse (metric depth):")
    assert "is better against the baseline and has the highest mean, as in the paper" in \
        _line(lines, "Best recipe (normalised depth):")
    assert "is worse against the baseline and does not have the highest mean (single-decoder does)" in \
        _line(lines, "Best recipe (metric depth):")


def test_diagnostics_are_read_only_with_enough_steps():
    lines = failure_conclusion({"metric": _summary({"naive-joint": SAME})}, diagnostics={"metric": [{"steps": 3}]})
    assert "at least 20 are needed" in _line(lines, "Gradients (metric depth):")


def test_an_unfinished_suite_says_what_is_missing():
    suite = {"normalised": _summary({"naive-joint": SAME}), "metric": _summary({"depth-first/copy/b": COLLAPSED})}
    assert "not finished" in _line(failure_conclusion(suite), "[metric depth] Naive joint at the paper's weight:")
    lines = failure_conclusion(suite, diagnostics={"metric": [], "normalised": [{"steps": 3}]})
    assert not any(line.startswith("Gradients (metric depth)") for line in lines)  # said once: not finished
    assert "paired over 3 seeds" in _line(failure_conclusion(suite), "[normalised depth] Naive joint")
    no_baseline = {"metric": _summary({"naive-joint": SAME}, baseline=False)}
    assert failure_conclusion(no_baseline) == ["No finished single-decoder run: nothing to compare with yet."]


def test_tables_mark_unfinished_runs():
    suite = {"normalised": _summary({"naive-joint@w=0.05": SAME, "naive-joint": WORSE, "depth-first/copy/b": COLLAPSED}),
             "metric": _summary({"naive-joint": SAME})}
    weights = weights_markdown(suite).splitlines()
    assert _line(weights, "| 0.05 |").endswith("+0.0000 [-0.043, +0.043] not distinguishable from 0; inconclusive (paired) | - | - | - | - |")  # depth R², metric mIoU, vs, depth R²
    assert "worse" in _line(weights, "| 0.15 (paper) |")
    assert "single-decoder (no depth): mIoU 0.5000 ± 0.0100" in weights_markdown(suite)
    assert _line(table3_markdown(suite).splitlines(), "| depth-first/copy/b |") == \
        "| depth-first/copy/b | 0.0136 | 0.0150 ± 0.0050 | - |"
    unbased = {t: {k: v for k, v in s.items() if k != "single-decoder"} for t, s in suite.items()}
    assert "single-decoder (no depth): not finished" in weights_markdown(unbased)
    assert _line(weights_markdown(unbased).splitlines(), "| 0.15 (paper) |").count("| - |") == 2
