import copy

import pytest
import yaml
from leadflow_score.adapters.ruleset_file import default_ruleset_file, load_ruleset
from leadflow_score.domain.ruleset import RulesetError, parse_ruleset

pytestmark = pytest.mark.unit

RAW = yaml.safe_load(default_ruleset_file().read_text())


def _bad(mutate) -> str:
    raw = copy.deepcopy(RAW)
    mutate(raw)
    with pytest.raises(RulesetError) as info:
        parse_ruleset(raw, source="test.yaml")
    return str(info.value)


def test_bundled_ruleset_is_valid_and_versioned() -> None:
    rs = load_ruleset()
    assert rs.version == "ruleset-v1"
    assert default_ruleset_file().parts[-3:] == ("score", "rules", "ruleset-v1.yaml")
    assert {r.kind for r in rs.fit.rules} >= {
        "title",
        "company_size",
        "industry",
        "country",
        "free_mail",
        "client_type",
    }
    assert {r.kind for r in rs.engagement.rules} >= {
        "lead_source",
        "callback",
        "visits",
        "page_views",
        "time_on_site",
        "downloads",
    }


def test_bad_regex_names_the_rule() -> None:
    msg = _bad(lambda r: r["fit"]["rules"][1].update(pattern="(unclosed"))
    assert msg.startswith("test.yaml: fit.rules[1] 'title_vp'.pattern: ")
    assert "invalid regex" in msg


def test_inverted_range_names_the_rule() -> None:
    msg = _bad(lambda r: r["engagement"]["rules"][8].update(max=1))
    assert "engagement.rules[8] 'visits_many'" in msg and "below min" in msg


def test_unknown_kind_and_unknown_field_are_reported() -> None:
    assert "fit.rules[0] 'title_c_level'" in _bad(lambda r: r["fit"]["rules"][0].update(kind="titel"))
    msg = _bad(lambda r: r["fit"]["rules"][0].update(pionts=3))
    assert "'title_c_level'.pionts" in msg and "Extra inputs" in msg


def test_bad_enum_value_names_the_rule() -> None:
    msg = _bad(lambda r: r["engagement"]["rules"][0].update(values=["callback"]))
    assert "engagement.rules[0] 'source_callback'.values[0]" in msg


def test_duplicate_ids_weights_grades_and_matrix() -> None:
    assert "duplicate rule ids: ['title_vp']" in _bad(lambda r: r["fit"]["rules"][0].update(id="title_vp"))
    assert "fit + engagement must be 1" in _bad(lambda r: r["weights"].update(fit=0.9))
    assert "strictly decreasing min_fit" in _bad(lambda r: r["grades"].reverse())
    assert "ratings[B]: missing bands ['low']" in _bad(lambda r: r["ratings"]["B"].pop("low"))
    assert "no row for grade D" in _bad(lambda r: r["ratings"].pop("D"))
    assert "half_life_days" in _bad(lambda r: r["engagement"].update(half_life_days=0))


def test_country_codes_are_checked() -> None:
    msg = _bad(lambda r: r["fit"]["rules"][12].update(values=["Norway"]))
    assert "'country_core'.values" in msg and "ISO alpha-2" in msg


def test_unreadable_file(tmp_path) -> None:
    p = tmp_path / "r.yaml"
    p.write_text("version: [")
    with pytest.raises(RulesetError, match="cannot read"):
        load_ruleset(p)
