"""The one way results are compared: n seeds, mean ± std, and a stated test behind every verdict."""
import pytest

from mdseg.study.compare import Comparison, comparison
from mdseg.study.report import results_markdown, summarize


def _summary(**recipes):
    def result(m, seed):
        return {"seed": seed, "budget": {"epochs": 4, "seg_epochs": 4, "depth_epochs": 0},
                "metrics": {"mIoU": m, "fg_mIoU": m, "iIoU": m, "acc": 0.9}}

    return summarize({name: [result(m, i) for i, m in enumerate(values)] for name, values in recipes.items()})


BASE = (0.50, 0.51, 0.49)


@pytest.mark.parametrize("values, verdict", [
    ((0.60, 0.61, 0.59), "better"),
    ((0.40, 0.41, 0.39), "worse"),
    ((0.52, 0.48, 0.50), "within seed noise"),
])
def test_verdicts_follow_welchs_test(values, verdict):
    summary = _summary(**{"single-decoder": BASE, "x": values})
    c = comparison(summary, "x", "single-decoder")
    assert c.verdict == verdict and c.p_value is not None
    text = c.sentence()
    assert "(3 seeds)" in text and "Welch's t-test" in text
    if verdict == "within seed noise":
        assert f"p = {c.p_value:.2f} >= 0.05" in text and "better" not in text and "worse" not in text
    else:
        assert f"{verdict} (Welch's t-test, p = {c.p_value:.2g} < 0.05)" in text


def test_a_large_difference_with_a_large_spread_is_not_called_better():
    c = Comparison("x", "base", "mIoU", (0.32, 0.72, 0.68), BASE)
    assert c.diff > 0.05 and c.verdict == "within seed noise"


def test_one_seed_is_never_a_gain():
    c = Comparison("x", "base", "mIoU", (0.9,), BASE)
    assert c.verdict == "one seed" and c.p_value is None
    assert "one seed cannot separate" in c.sentence() and "better" not in c.sentence()
    assert Comparison("x", "base", "mIoU", BASE, (0.1,)).verdict == "one seed"


def test_identical_seeds_on_both_sides_have_no_test():
    c = Comparison("x", "base", "mIoU", (0.5, 0.5), (0.4, 0.4))
    assert c.verdict == "no spread" and "no test applies" in c.sentence()


def test_against_a_fixed_reference_a_one_sample_test_is_used():
    c = Comparison("U-Net", "colour only", "mIoU", (0.50, 0.52, 0.51), (0.07,), fixed=True)
    assert c.verdict == "better" and "one-sample t-test" in c.sentence() and "(fixed)" in c.sentence()
    assert Comparison("U-Net", "colour only", "mIoU", (0.5,), (0.07,), fixed=True).verdict == "one seed"


def test_results_table_states_each_recipe_against_the_baseline():
    table = results_markdown(_summary(**{"single-decoder": BASE, "x": (0.60, 0.61, 0.59), "y": (0.7,)}))
    assert "| mIoU vs single-decoder |" in table
    assert "+0.1000 (better, p=" in table and "(one seed)" in table and "Welch t-test" in table
    assert "vs" not in results_markdown(_summary(x=BASE)).split("\n")[0]  # no baseline: no column
