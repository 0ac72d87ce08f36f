"""The one way results are compared: n seeds, mean ± std, and a stated test behind every verdict."""
import pytest
from helpers import run_record

from mdseg.study.compare import Comparison, comparison
from mdseg.study.report import results_markdown, summarize


def _summary(**recipes):
    def result(m, seed, name):
        return run_record(seed, m, name, budget={"epochs": 4, "seg_epochs": 4, "depth_epochs": 0}, fg_mIoU=m, iIoU=m, acc=0.9)

    return summarize({name: [result(m, i, name) for i, m in enumerate(values)] for name, values in recipes.items()})


BASE = (0.50, 0.51, 0.49)


# Student's sleep data (Cushny & Peebles 1905): extra hours of sleep under two drugs, the same 10 patients.
# R: t.test(extra ~ group, data = sleep, paired = TRUE) gives mean difference -1.58, t = -4.0621, df = 9,
# p = 0.002833, 95% CI [-2.4598858, -0.7001142]; unpaired (Welch): t = -1.8608, df = 17.776, p = 0.07939,
# 95% CI [-3.3654832, 0.2054832]. The textbook case where pairing decides.
DRUG1 = (0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0)
DRUG2 = (1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4)


def test_paired_seeds_give_the_textbook_paired_test():
    seeds = tuple(range(10))
    c = Comparison("drug 1", "drug 2", "hours", DRUG1, DRUG2, seeds=seeds, baseline_seeds=seeds)
    assert c.paired and c.diff == pytest.approx(-1.58)
    assert c.p_value == pytest.approx(0.002833, abs=5e-6)
    assert c.interval == pytest.approx((-2.4598858, -0.7001142), abs=1e-6)
    assert c.verdict == "worse" and "paired over 10 seeds" in c.sentence() and "[-2.4599, -0.7001]" in c.sentence()


def test_without_common_seeds_welch_decides_and_the_row_says_so():
    c = Comparison("drug 1", "drug 2", "hours", DRUG1, DRUG2, seeds=tuple(range(10)), baseline_seeds=tuple(range(10, 20)))
    assert not c.paired and c.p_value == pytest.approx(0.07939, abs=5e-5)
    assert c.interval == pytest.approx((-3.3654832, 0.2054832), abs=1e-5)
    assert c.verdict == "not distinguishable from 0" and "unpaired: the seeds differ" in c.sentence()
    assert "cannot rule out a difference as large as 3.3655" in c.sentence()
    assert Comparison("a", "b", "hours", DRUG1, DRUG2).test == "Welch's t-test"  # seeds unknown


def test_a_diverged_seed_leaves_the_others_paired():
    """Seed 1 of the recipe diverged: the comparison pairs the two seeds both arms finished."""
    summary = _summary(**{"single-decoder": BASE, "x": (0.45, 0.43)})
    summary["x"]["seeds"] = [0, 2]  # the finished seeds
    c = comparison(summary, "x", "single-decoder")
    assert c.paired and c.common_seeds == (0, 2) and c.dropped == 1
    assert c.differences == pytest.approx((0.45 - 0.50, 0.43 - 0.49))
    assert "paired over 2 seeds, 1 unpaired seed left out" in c.sentence()


@pytest.mark.parametrize("values, verdict, margin", [
    ((0.60, 0.62, 0.58), "better", "better by more than the margin"),
    ((0.40, 0.42, 0.38), "worse", "worse by more than the margin"),
    ((0.495, 0.504, 0.486), "worse", "worse, by less than the margin"),
    ((0.501, 0.509, 0.491), "not distinguishable from 0", "within the margin"),
    ((0.52, 0.48, 0.50), "not distinguishable from 0", "inconclusive"),
])
def test_verdicts_read_the_paired_interval_and_the_margin(values, verdict, margin):
    from mdseg.study.compare import MARGIN

    summary = _summary(**{"single-decoder": BASE, "x": values})
    c = comparison(summary, "x", "single-decoder")
    assert c.paired and c.verdict == verdict and c.against_margin == margin
    assert c.margin_abs == pytest.approx(MARGIN * 0.50)
    text = c.sentence()
    assert "(3 seeds)" in text and "paired over 3 seeds" in text and f"p = {c.p_value:.2g}" in text
    assert f"{verdict}; {margin}" in text
    if verdict == "not distinguishable from 0":
        assert "cannot rule out a difference as large as" in text


def test_a_large_difference_with_a_large_spread_is_not_called_better():
    c = Comparison("x", "base", "mIoU", (0.32, 0.72, 0.68), BASE, seeds=(0, 1, 2), baseline_seeds=(0, 1, 2))
    assert c.diff > 0.05 and c.verdict == "not distinguishable from 0" and c.against_margin == "inconclusive"


def test_holm_and_the_collapse_rule():
    from mdseg.study.compare import collapsed, holm

    # Holm 1979 style: sorted p 0.01, 0.02, 0.03, 0.04 over m = 4 -> 0.04, 0.06, 0.06, 0.06
    assert holm([0.03, 0.01, None, 0.04, 0.02]) == pytest.approx([0.06, 0.04, None, 0.06, 0.06])
    assert holm([0.5, 0.9]) == [1.0, 1.0] or holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert collapsed(0.03, 0.47) and not collapsed(0.3, 0.47)


def test_seeds_needed_and_the_prediction_interval():
    from mdseg.study.compare import prediction_interval
    from mdseg.study.power import seeds_needed

    # an effect of one standard deviation of the differences: 10 pairs give 80% power (G*Power: 10)
    assert seeds_needed(1.0, 1.0) == 10
    assert seeds_needed(0.01, 0.023) < seeds_needed(0.02, 0.023)
    low, high = prediction_interval([0.50, 0.51, 0.49])
    half = 4.302653 * 0.01 * (1 + 1 / 3) ** 0.5
    assert (low, high) == pytest.approx((0.50 - half, 0.50 + half), rel=1e-6)


def test_one_seed_is_never_a_gain():
    c = Comparison("x", "base", "mIoU", (0.9,), BASE)
    assert c.verdict == "one seed" and c.p_value is None
    assert "one seed cannot separate" in c.sentence() and "better" not in c.sentence()
    assert Comparison("x", "base", "mIoU", BASE, (0.1,)).verdict == "one seed"


def test_identical_seeds_on_both_sides_have_no_test():
    c = Comparison("x", "base", "mIoU", (0.5, 0.5), (0.4, 0.4))
    assert c.verdict == "no spread" and "no test applies" in c.sentence()


def test_against_a_fixed_reference_a_one_sample_test_is_used():
    c = Comparison("U-Net", "colour only", "mIoU", (0.50, 0.52, 0.51), (0.07,), fixed=True, seeds=(0, 1, 2))
    assert not c.paired and c.verdict == "better" and "one-sample t-test" in c.sentence() and "(fixed)" in c.sentence()
    assert Comparison("U-Net", "colour only", "mIoU", (0.5,), (0.07,), fixed=True).verdict == "one seed"


def test_results_table_states_each_recipe_against_the_baseline():
    table = results_markdown(_summary(**{"single-decoder": BASE, "x": (0.60, 0.62, 0.58), "y": (0.7,)}))
    assert "| mIoU vs single-decoder |" in table
    assert "| +0.1000 [+0.075, +0.125] better; better by more than the margin (paired) |" in table
    assert "(one seed)" in table and "paired by seed" in table
    assert "vs" not in results_markdown(_summary(x=BASE)).split("\n")[0]  # no baseline: no column


def test_a_pair_from_two_machines_is_said():
    """A seed reproduces exactly only on the machine that trained it: a comparison whose paired seeds
    came from different (or unrecorded) machines says so in its sentence and its cell."""
    from dataclasses import replace

    def arm(name, values, model):
        return [replace(r, device={"type": "cpu", "name": "x86_64 CPU", **({"model": model} if model else {})})
                for r in (run_record(i, m, name, budget={"epochs": 4, "seg_epochs": 4, "depth_epochs": 0})
                          for i, m in enumerate(values))]

    same = summarize({"single-decoder": arm("single-decoder", BASE, "AMD EPYC"), "x": arm("x", (0.45, 0.46, 0.44), "AMD EPYC")})
    assert comparison(same, "x", "single-decoder").hosts == ""
    mixed = summarize({"single-decoder": arm("single-decoder", BASE, None), "x": arm("x", (0.45, 0.47, 0.44), "AMD EPYC")})
    c = comparison(mixed, "x", "single-decoder")
    assert c.hosts == "AMD EPYC vs not recorded" and c.paired
    assert "different or unrecorded machines (AMD EPYC vs not recorded)" in c.sentence()
    assert c.cell().endswith("(paired, mixed hosts)")


def test_every_depth_trained_row_shows_its_depth_quality_or_says_it_was_not_measured():
    with_depth = {"epochs": 4, "seg_epochs": 4, "depth_epochs": 4}
    without = {"epochs": 4, "seg_epochs": 4, "depth_epochs": 0}
    summary = summarize({
        "single-decoder": [run_record(k, 0.5, budget=without) for k in range(3)],
        "naive-joint": [run_record(k, 0.48, "naive-joint", budget=with_depth) for k in range(3)],  # before depth was recorded
        "naive-joint/norm": [run_record(k, 0.49, "naive-joint/norm", budget=with_depth, **({"depth_r2": 0.6 + k / 100} if k else {}))
                             for k in range(3)]})
    rows = {line.split(" | ")[0][2:]: line for line in results_markdown(summary).splitlines() if line.startswith("| ")}
    assert "depth R²" in rows["recipe"]
    depth = rows["recipe"].split(" | ").index("depth R²")
    cell = lambda name: rows[name].split(" | ")[depth]  # noqa: E731
    assert cell("single-decoder") == "-" and cell("naive-joint") == "not measured"
    assert cell("naive-joint/norm") == "0.615 ± 0.007 (2 of 3)"
