"""Background loops stop when cancelled even when unwinding raised an error in place of the
cancellation (`orchestrator.core.aio`): a rollback on a connection whose query the cancellation
interrupted fails, and a loop that handles its work's errors would otherwise go on, with the
process's shutdown waiting for it without end. And how late the loop runs is measured (`LoopLag`)."""

from __future__ import annotations

import asyncio
import time

from structlog.testing import capture_logs

from orchestrator.core.aio import LoopLag, being_cancelled, cancel_and_wait, finish_or_cancel


async def _work_whose_clean_up_fails() -> None:
    try:
        await asyncio.sleep(3600)  # a query
    except asyncio.CancelledError:
        raise RuntimeError("the rollback failed: the connection was closed") from None


async def _wait_for_more() -> None:
    await asyncio.sleep(3600)


async def test_a_loop_that_checks_being_cancelled_ends_when_its_clean_up_fails() -> None:
    passes = 0

    async def loop() -> None:
        nonlocal passes
        while True:
            passes += 1
            try:
                await _work_whose_clean_up_fails()
            except Exception:
                if being_cancelled():
                    raise asyncio.CancelledError from None
            await asyncio.sleep(0)

    task = asyncio.create_task(loop())
    await asyncio.sleep(0.05)
    await asyncio.wait_for(cancel_and_wait([task]), timeout=5)
    assert task.cancelled()
    assert passes == 1


async def test_cancel_and_wait_ends_a_loop_that_swallowed_its_first_cancellation() -> None:
    errors: list[str] = []

    async def careless_loop() -> None:
        work = _work_whose_clean_up_fails
        while True:
            try:
                await work()
            except Exception as exc:  # handled as an error of the work: the loop goes on
                errors.append(str(exc))
                work = _wait_for_more  # idle, waiting for the next wake-up

    task = asyncio.create_task(careless_loop())
    await asyncio.sleep(0.05)
    await asyncio.wait_for(cancel_and_wait([task], again_every_s=0.1), timeout=5)
    assert task.done()
    assert errors == ["the rollback failed: the connection was closed"], "swallowed once, then ended"


async def test_a_task_that_ends_with_an_error_on_cancellation_does_not_stop_the_others() -> None:
    failing = asyncio.create_task(_work_whose_clean_up_fails())
    plain = asyncio.create_task(asyncio.sleep(3600))
    await asyncio.sleep(0.05)
    await asyncio.wait_for(cancel_and_wait([failing, plain]), timeout=5)
    assert isinstance(failing.exception(), RuntimeError)
    assert plain.cancelled()


async def test_finish_or_cancel_lets_a_pass_finish_within_the_bound_and_cancels_an_overrun() -> None:
    committed: list[str] = []

    async def one_pass(name: str, takes_s: float) -> None:
        await asyncio.sleep(takes_s)
        committed.append(name)

    short = asyncio.create_task(one_pass("short", 0.05))
    overrun = asyncio.create_task(one_pass("overrun", 3600))
    await asyncio.wait_for(finish_or_cancel([short, overrun], within_s=0.5), timeout=5)
    assert committed == ["short"]
    assert not short.cancelled()
    assert overrun.cancelled()


async def test_loop_lag_measures_how_long_the_loop_was_held_and_starts_over_once_taken() -> None:
    lag = LoopLag(every_s=0.01, warn_after_s=0.2)
    stop = asyncio.Event()
    measuring = asyncio.create_task(lag.run(until=stop))
    await asyncio.sleep(0.05)
    with capture_logs() as logs:
        time.sleep(0.3)  # noqa: ASYNC251 (a synchronous call holds the loop)
        await asyncio.sleep(0.05)
    held = lag.take_max()
    await asyncio.sleep(0.05)
    after = lag.take_max()
    stop.set()
    await asyncio.wait_for(measuring, timeout=1)
    assert held >= 0.25
    assert after < held, "taken: it starts over"
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["event_loop_lagged"]


async def test_loop_lag_ends_as_soon_as_its_process_stops_not_at_its_next_wake_up() -> None:
    lag = LoopLag(every_s=30)
    stop = asyncio.Event()
    measuring = asyncio.create_task(lag.run(until=stop))
    await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(measuring, timeout=1)
    assert lag.take_max() == 0.0
