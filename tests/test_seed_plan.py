"""The statistics' plan: which arms get more seeds and how many (mdseg.study.seed_plan)."""
from types import SimpleNamespace

import numpy as np
from helpers import run_record

from mdseg.study.compare import Comparison
from mdseg.study.power import seeds_needed
from mdseg.study.profiles import get_profile
from mdseg.study.report import summarize
from mdseg.study.scale_suite import FOLLOW_UP, Point
from mdseg.study.seed_plan import BEYOND, LEAST_SEEDS, MOST_SEEDS, PILOT_SEEDS, pilot, plan, seeds_plan_markdown, seeds_wanted

BASE = (0.50, 0.51, 0.49)
SEEDS = (0, 1, 2)


def _c(values, base=BASE) -> Comparison:
    return Comparison("naive-joint", "single-decoder", "mIoU", values, base, seeds=SEEDS, baseline_seeds=SEEDS)


def test_an_undecided_comparison_trains_what_its_power_asks_between_the_floor_and_the_cap():
    decided = _c((0.40, 0.42, 0.38))  # worse by more than the margin
    assert decided.against_margin != "inconclusive" and seeds_wanted(decided) == (None, LEAST_SEEDS)
    assert seeds_wanted(None) == (None, LEAST_SEEDS)  # a follow-up: the floor only
    noisy = _c((0.52, 0.48, 0.50))
    needed = seeds_needed(float(np.std(noisy.differences, ddof=1)), noisy.margin_abs)
    assert noisy.against_margin == "inconclusive" and seeds_wanted(noisy) == (needed, min(max(needed, 6), 10))
    tight = _c((0.495, 0.507, 0.487))
    if tight.against_margin == "inconclusive":  # needs few seeds: still trained to the floor
        assert seeds_wanted(tight)[1] == LEAST_SEEDS
    hopeless = _c((0.60, 0.40, 0.50))  # more than 200 seeds: the cap
    assert seeds_wanted(hopeless, least=6, most=10) == (BEYOND, MOST_SEEDS)


def _runs(name, values):
    return [run_record(i, v, name, budget={"epochs": 4, "seg_epochs": 4, "depth_epochs": 0}) for i, v in enumerate(values)]


def test_the_plan_merges_a_shared_baseline_and_trains_both_arms_of_the_cheapest_verdict_first():
    cheap, costly = Point("paper", depth_scale=4), Point("paper", depth_scale=16)
    failing = Point("sgd", depth_scale=255)
    rows = [{"point": cheap, "comparison": _c((0.486, 0.502, 0.478))},
            {"point": costly, "comparison": _c((0.56, 0.44, 0.50))},
            {"point": failing, "comparison": _c((0.03, 0.04, 0.03))}]
    scale = SimpleNamespace(map_points=lambda: rows, failing=lambda: [failing])
    tables = SimpleNamespace(summary=summarize({"single-decoder": _runs("single-decoder", BASE),
                                                "naive-joint": _runs("naive-joint", (0.48, 0.47, 0.49))}))
    arms = plan(get_profile("cpu"), scale, tables, lr_sgd=0.01)
    labels = [a.label for a in arms]
    assert len(labels) == len(set(labels))
    paper_base = [a for a in arms if a.label == "single-decoder under the paper optimiser"]
    assert len(paper_base) == 1  # shared by both paper points: once, with the most either asks
    wanted = {a.label: a.wanted for a in arms}
    assert paper_base[0].wanted == max(wanted["naive-joint at normalised x4, paper optimiser"],
                                       wanted["naive-joint at normalised x16, paper optimiser"])
    # the cheapest verdict's arms come first, its baseline with it (though the costly point asks more of it)
    assert set(labels[:2]) == {"naive-joint at normalised x4, paper optimiser", "single-decoder under the paper optimiser"}
    assert paper_base[0].first < paper_base[0].needed
    floor = [a for a in arms if a.first is None]
    assert arms[-len(floor):] == floor and {f"{r}, follow-up at {failing.label}" for r in FOLLOW_UP} <= {a.label for a in floor}
    assert all(a.wanted >= LEAST_SEEDS for a in arms) and all(a.wanted <= MOST_SEEDS for a in arms)
    arm = paper_base[0]
    assert arm.seeds() == list(range(PILOT_SEEDS, arm.wanted)) and arm.seeds(up_to=5) == [3, 4]


def test_the_plan_table_says_what_each_comparison_still_trains():
    text = seeds_plan_markdown({"decided": _c((0.40, 0.42, 0.38)), "open": _c((0.56, 0.44, 0.50))})
    decided, open_ = [line for line in text.splitlines() if line.startswith(("| decided", "| open"))]
    assert f"the floor, {LEAST_SEEDS} (decided by the pilot)" in decided and decided.endswith(f"| yes | {LEAST_SEEDS - 3} more |")
    needed = seeds_needed(float(np.std(_c((0.56, 0.44, 0.50)).differences, ddof=1)), _c(BASE).margin_abs)
    assert f"| {needed} |" in open_ and open_.endswith(f"| no | {MOST_SEEDS - 3} more |")
    assert f"at least {LEAST_SEEDS} seeds per arm" in text and "not recomputed" in text


def _grown(pilot_values, extra_values, base_extra):
    """A comparison whose pilot (seeds 0-2) is ``pilot_values`` and whose extra seeds 3.. are ``extra_values``."""
    seeds = SEEDS + tuple(range(3, 3 + len(extra_values)))
    return Comparison("naive-joint", "single-decoder", "mIoU", tuple(pilot_values) + tuple(extra_values),
                      BASE + tuple(base_extra), seeds=seeds, baseline_seeds=seeds)


def test_targets_come_from_the_pilot_so_seeds_that_look_decided_part_way_do_not_stop_an_arm():
    noisy_pilot = (0.51, 0.49, 0.50)
    grown = _grown(noisy_pilot, (0.500, 0.501, 0.499), (0.500, 0.501, 0.499))  # extra seeds: differences exactly 0
    assert grown.against_margin == "within the margin"  # decided, read from all 6 seeds
    assert pilot(grown).values == noisy_pilot and pilot(grown).common_seeds == SEEDS
    needed, wanted = seeds_wanted(pilot(grown))
    assert needed is not None and wanted > LEAST_SEEDS  # the pilot's target stands
    assert seeds_wanted(grown) == (None, LEAST_SEEDS)  # what re-planning from all seeds would have said
    point = Point("paper", depth_scale=4)
    scale = SimpleNamespace(map_points=lambda: [{"point": point, "comparison": grown}], failing=lambda: [])
    tables = SimpleNamespace(summary={})
    arms = plan(get_profile("cpu"), scale, tables, lr_sgd=0.01)
    assert {a.wanted for a in arms} == {wanted}
    row = [line for line in seeds_plan_markdown({"grown": grown}).splitlines() if line.startswith("| grown")][0]
    assert row.endswith(f"| yes | {wanted - 6} more |") if wanted > 6 else row.endswith("| yes | - |")
    assert pilot(None) is None


def test_each_arm_says_how_many_seeds_it_holds_and_what_is_still_to_train(tmp_path):
    from mdseg.study.profiles import runs_root
    from mdseg.study.seed_plan import Arm, arms_markdown, seeds_held
    from mdseg.training import runs

    cpu = get_profile("cpu")
    arm = Arm("naive-joint, Tables 2-3", (cpu, "naive-joint"), 6, 5, 5)
    for seed, outcome in ((0, runs.RESULT), (1, runs.RESULT), (2, runs.DIVERGED), (3, None)):
        folder = runs.run_dir(runs_root(cpu, tmp_path), "naive-joint", seed)
        folder.mkdir(parents=True)
        (folder / runs.CONFIG).write_text("{}")
        if outcome:
            (folder / outcome).write_text("{}")
    assert seeds_held(arm, tmp_path) == 3  # a diverged seed is an outcome; an unfinished one is not
    text = arms_markdown([arm], tmp_path)
    assert "| naive-joint, Tables 2-3 | 3 | 6 | 3 |" in text and "3 runs are still to train" in text
    for seed in (3, 4, 5):
        folder = runs.run_dir(runs_root(cpu, tmp_path), "naive-joint", seed)
        folder.mkdir(parents=True, exist_ok=True)
        for name in (runs.CONFIG, runs.RESULT):
            (folder / name).write_text("{}")
    text = arms_markdown([arm], tmp_path)
    assert "| naive-joint, Tables 2-3 | 6 | 6 | - |" in text and "the plan is complete" in text
    assert "still to train (" not in text


def _at(stage_epochs, values):
    """Runs of one recipe at ``stage_epochs`` per stage (a baseline: 2 stage-lengths, both segmentation)."""
    epochs = 2 * stage_epochs
    return [run_record(i, v, "single-decoder", budget={"epochs": epochs, "seg_epochs": epochs, "depth_epochs": 0})
            for i, v in enumerate(values)]


def test_tables_2_3_arms_train_at_the_budget_the_tables_are_read_at():
    from mdseg.study.seed_plan import tables_at

    cpu = get_profile("cpu")
    naive = lambda e, v: [run_record(i, x, "naive-joint", budget={"epochs": 2 * e, "seg_epochs": 2 * e, "depth_epochs": 2 * e})  # noqa: E731
                          for i, x in enumerate(v)]
    budget = {e: SimpleNamespace(summary=summarize({"single-decoder": _at(e, base), "naive-joint": naive(e, other)}))
              for e, base, other in [(2, (0.50, 0.51, 0.49), (0.48, 0.47, 0.49)),
                                     (4, (0.60, 0.61, 0.59), (0.58, 0.57, 0.59)),
                                     (8, (0.61, 0.62, 0.60), (0.56, 0.62, 0.58))]}
    at, results, label = tables_at(budget, cpu)
    assert at.stage_epochs == 8 and results is budget[8] and label == "Tables 2-3 at 8 epochs per stage"
    scale = SimpleNamespace(map_points=lambda: [], failing=lambda: [])
    arms = {a.label: a for a in plan(cpu, scale, results, lr_sgd=0.01, tables_profile=at, tables_label=label)}
    table_arms = [a for name, a in arms.items() if name.endswith(label)]
    assert len(table_arms) == 2 and all(a.job[0].stage_epochs == 8 for a in table_arms)


def test_two_verdicts_that_need_as_many_seeds_train_pair_by_pair():
    """Ties in the seeds needed once sorted by label, which put both naive arms before both baselines: a
    plan stopped between them had trained neither verdict's pair."""
    a, b = Point("paper", depth_scale=4), Point("sgd", depth_scale=16)
    same = (0.486, 0.502, 0.478)
    scale = SimpleNamespace(map_points=lambda: [{"point": a, "comparison": _c(same)}, {"point": b, "comparison": _c(same)}],
                            failing=lambda: [])
    tables = SimpleNamespace(summary={})
    arms = plan(get_profile("cpu"), scale, tables, lr_sgd=0.01)
    assert arms[0].first == arms[2].first  # the same need: a tie
    assert [a.label for a in arms] == ["naive-joint at normalised x4, paper optimiser", "single-decoder under the paper optimiser",
                                       "naive-joint at normalised x16, sgd optimiser", "single-decoder under the sgd optimiser"]
