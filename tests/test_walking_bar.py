"""The walking bar by hand: each criterion fails it alone; the ranking key orders candidates."""

from __future__ import annotations

from mjx_walker import walking_bar


def _row(commands: str, lag: float, no_fall: float, lin: float | None, yaw: float | None = None) -> dict:
    return {"commands": commands, "lag_ms": lag, "no_fall_rate": no_fall, "lin_error": lin, "yaw_error": yaw}


def _walking() -> list[dict]:
    return [
        _row("forward", 0, 1.0, 0.15),
        _row("forward", 16, 1.0, 0.10),
        _row("random", 0, 1.0, 0.20, 0.30),
        _row("random", 16, 1.0, 0.05, 0.10),
    ]


def test_the_bar_by_hand():
    assert walking_bar.LAGS_MS == (0.0, 16.0) and walking_bar.EPISODES >= 10 and walking_bar.DURATION_S == 10.0
    assert walking_bar.walks(_walking())  # every figure exactly at or inside its limit


def test_each_failed_criterion_fails_the_bar():
    for i, change in [
        (0, {"lin_error": 0.151}),  # forward tracking 0.15 m/s
        (2, {"lin_error": 0.201}),  # random-command linear tracking 0.2 m/s
        (3, {"yaw_error": 0.301}),  # yaw-rate tracking 0.3 rad/s
        (1, {"no_fall_rate": 0.9}),  # one fall in ten
        (2, {"lin_error": None}),  # nobody survived to be measured
    ]:
        rows = _walking()
        rows[i] = {**rows[i], **change}
        assert not walking_bar.walks(rows), change
    assert not walking_bar.walks(_walking()[:2])  # standing-still forward runs alone are not enough


def test_standing_still_is_not_walking():
    """What the 1M-step checkpoint did: no falls, but a 0.5 m/s error on a 0.5 m/s command."""
    rows = [_row("forward", 0, 1.0, 0.50), _row("random", 0, 1.0, 0.30, 0.34)]
    assert not walking_bar.walks(rows)


def test_score_counts_falls_first_then_the_worst_error_against_its_limit():
    rows = _walking()
    falls, worst = walking_bar.score(rows)
    assert falls == 0.0 and worst == 1.0  # forward 0.15 / 0.15 and random 0.20 / 0.20
    rows[1] = {**rows[1], "no_fall_rate": 29 / 30}
    rows[3] = {**rows[3], "no_fall_rate": 28 / 30, "lin_error": 0.01}
    falls, worst = walking_bar.score(rows)
    assert abs(falls - 3 / 30) < 1e-12 and worst == 1.0
    rows = _walking()
    rows[2] = {**rows[2], "lin_error": None}  # nobody survived: worst possible error
    assert walking_bar.score(rows)[1] == 9.0 / walking_bar.MAX_LIN_ERROR
