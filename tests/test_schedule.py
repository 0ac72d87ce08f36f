import pytest
from helpers import run_record

from mdseg import Schedule, Stage
from mdseg.training.schedule import (
    BEST_RECIPE,
    budget,
    equal_budget,
    get_recipe,
    joint_weights,
    naive_joint,
    recipes,
    seg_epochs,
    single_decoder,
    table3,
)


def test_table3_has_the_papers_eight_recipes():
    table = table3(2)
    assert sorted(table) == sorted(
        f"{first}-first/{copy}/{order}"
        for first, order in (("semantic", "d->b"), ("semantic", "b"), ("depth", "s->b"), ("depth", "b"))
        for copy in ("copy", "no-copy")
    )


@pytest.mark.parametrize("name,tasks,copies", [
    ("depth-first/copy/s->b", [("depth",), ("seg",), ("seg", "depth")], [None, ("depth", "seg"), None]),
    ("depth-first/no-copy/s->b", [("depth",), ("seg",), ("seg", "depth")], [None, None, None]),
    ("depth-first/copy/b", [("depth",), ("seg", "depth")], [None, ("depth", "seg")]),
    ("semantic-first/copy/d->b", [("seg",), ("depth",), ("seg", "depth")], [None, ("seg", "depth"), None]),
    ("semantic-first/no-copy/b", [("seg",), ("seg", "depth")], [None, None]),
])
def test_recipe_stages(name, tasks, copies):
    schedule = table3(3)[name]
    assert [s.tasks for s in schedule.stages] == tasks
    assert [s.copy for s in schedule.stages] == copies
    assert all(s.epochs == 3 and s.train_encoder for s in schedule.stages)
    assert schedule.stages[-1].weights == joint_weights() == {"seg": 0.85, "depth": 0.15}


def test_baselines_and_budgets():
    assert single_decoder(5).stages[0].weights == {"seg": 1.0} and not single_decoder(5).uses_depth
    assert naive_joint(5).stages[0].weights == {"seg": 0.85, "depth": 0.15}
    best = table3(4)[BEST_RECIPE]
    assert budget(best) == {"epochs": 12, "seg_epochs": 8, "depth_epochs": 8}
    assert seg_epochs(table3(4)["depth-first/copy/b"]) == 4
    fair = equal_budget(single_decoder(1), best)
    assert fair.epochs == 8 and fair.name == "single-decoder"
    all_ = recipes(4)
    assert len(all_) == 10 and all_["single-decoder"].epochs == 8 and all_["naive-joint"].epochs == 8
    assert recipes(4, equal=False)["single-decoder"].epochs == 4
    assert best.boundaries() == [4, 8, 12]


def test_bad_names_and_stages():
    with pytest.raises(KeyError, match="Unknown recipe 'depth-first'.*single-decoder"):
        get_recipe("depth-first", 1)
    with pytest.raises(ValueError, match="weights must name"):
        Stage("x", {"normals": 1.0}, 1)
    with pytest.raises(ValueError, match="epochs"):
        Stage("x", {"seg": 1.0}, -1)
    assert Schedule("s", [Stage("a", {"seg": 1.0}, 1)]).stages[0].name == "a"


def test_report_tables_and_comparisons():
    from mdseg.study.compare import compare
    from mdseg.study.report import PAPER, results_markdown, summarize

    def result(m, seed, name="single-decoder"):
        return run_record(seed, m, name, budget={"epochs": 4, "seg_epochs": 4, "depth_epochs": 0},
                          fg_mIoU=m - 0.1, iIoU=m - 0.2, acc=0.9)

    summary = summarize({"single-decoder": [result(0.5, 0), result(0.52, 1)],
                         "depth-first/copy/s->b": [result(0.6, 0, "depth-first/copy/s->b"), result(0.61, 1, "depth-first/copy/s->b")]})
    assert summary["single-decoder"]["mIoU"]["mean"] == pytest.approx(0.51)
    assert summary["single-decoder"]["mIoU"]["std"] == pytest.approx(0.0141421, rel=1e-4)
    table = results_markdown(summary)
    assert "| single-decoder | 4 / 0 / 4 | 2 | 0.5100 ± 0.0141 | 0.7703 |" in table
    assert len(PAPER) == 10
    text = compare(summary, "depth-first/copy/s->b", "single-decoder")
    assert text.startswith("depth-first/copy/s->b: mIoU 0.6050 ± 0.0071 (2 seeds) vs single-decoder 0.5100 ± 0.0141")
    one = summarize({"a": [result(0.5, 0, "a")], "b": [result(0.5, 0, "b")]})
    assert "one seed cannot separate" in compare(one, "a", "b")
