"""The gateway process: the web chat API on aiohttp, and when TELEGRAM_BOT_TOKEN is set, Telegram (polling, or the
webhook on the same aiohttp app when TELEGRAM_WEBHOOK_URL is set) with the lawyer desk and the outbox sender
(every OUTBOX_INTERVAL_SECONDS; offers widen after ESCALATE_AFTER_SECONDS); the retry of kept messages; and, when
RETENTION_DAYS is set, the retention purge at start and then daily."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from datetime import timedelta

from aiohttp import web
from sqlalchemy import Engine

from bot.dialogue_service import Deliver, DialogueService, kept_ids
from bot.outbox import utc_now
from bot.rasa_client import BotMessage, RasaClient
from bot.ratelimit import RateLimiter
from bot.relay import Relay
from bot.telegram import TelegramGateway, build_telegram, markup
from bot.telegram_webhook import Webhook, WebhookConfigError, add_webhook, webhook_from
from bot.web import create_app
from bot.web_desk import WebDesk
from hotline.cases import retention
from hotline.cases.db import DatabaseError, engine_for, require_current
from hotline.cases.mailbox import Inbox, KeptMessages, KeptRecord
from hotline.cases.store import CaseStore
from hotline.pseudonym import PseudonymKeyError, pseudonym
from hotline.rasa_tracker import TrackerEraser
from hotline.settings import Settings, get_settings

log = logging.getLogger("bot")

PURGE_EVERY = 24 * 3600.0  # seconds between two retention purges
PURGE_RETRY = 3600.0  # after a failed one (a database down), the next try


def case_database(settings: Settings) -> Engine | None:
    """The case store's database, or None (logged) if it cannot be used: persons then still get the bot's
    dialogue, without lawyers, the web inbox or kept messages. `hotline run` migrates it before the gateway."""
    try:
        engine = engine_for(settings.effective_database_url)
        require_current(engine)
    except DatabaseError as error:
        log.error("the case store is off (no lawyer desk, no kept messages): %s", error)
        return None
    return engine


def telegram_gateway(
    settings: Settings,
    store: CaseStore | None,
    inbox: Inbox | None,
    dialogue: DialogueService,
    webhook: Webhook | None = None,
) -> TelegramGateway:
    return build_telegram(
        settings.telegram_token,
        dialogue.rasa,
        base_url=settings.telegram_api_url or None,
        store=store,
        escalate_after=timedelta(seconds=settings.escalate_after_seconds),
        send_interval=settings.outbox_interval_seconds,
        inbox=inbox,
        rate_limit=RateLimiter(settings.rate_limit_burst, settings.rate_limit_per_minute),
        tracker=TrackerEraser(settings.rasa_tracker_url),
        webhook=webhook,
        dialogue=dialogue,
    )


def kept_delivery(inbox: Inbox | None, telegram: TelegramGateway | None) -> Deliver:
    """Where the answers to a message kept while the dialogue was down go: the Telegram chat it came from, or
    the web person's inbox (their page fetches it)."""

    async def deliver(kept: KeptRecord, answers: list[BotMessage]) -> None:
        if kept.channel == "telegram":
            address = kept.meta.get("reply_address")
            if telegram is None or not address:
                log.warning("conversation=%s: kept message %s answered, no Telegram to send it", *kept_ids(kept))
                return
            for answer in answers:
                await telegram.application.bot.send_message(int(address), answer.text, reply_markup=markup(answer))
        elif inbox is not None:
            now = utc_now()
            for answer in answers:
                await asyncio.to_thread(
                    inbox.put, kept.channel, kept.conversation_key, "hotline", answer.text, now, answer.buttons
                )

    return deliver


async def purge_daily(
    engine: Engine, tracker: TrackerEraser, days: int, every: float = PURGE_EVERY, retry: float = PURGE_RETRY
) -> None:
    """Until cancelled: the retention purge (hotline/cases/retention.py) now, then every `every` seconds; a failed
    one is logged and tried again after `retry`. Several gateways may purge at once: each erases what is left."""
    while True:
        try:
            await asyncio.to_thread(retention.purge, engine, tracker, days)  # it logs its counts
        except Exception:
            log.exception("the retention purge failed; trying again in %.0f s", retry)
            await asyncio.sleep(retry)
        else:
            await asyncio.sleep(every)


async def serve() -> None:
    settings = get_settings()
    webhook = webhook_from(settings) if settings.telegram_token else None  # refuses a bad one before anything starts
    pseudonym("telegram", "0")  # a PSEUDONYM_KEY too short to be a secret stops the gateway here, not mid-message
    engine = case_database(settings)
    store = CaseStore(engine) if engine is not None else None
    inbox = Inbox(engine) if engine is not None else None
    dialogue = DialogueService(RasaClient(settings.rasa_url), KeptMessages(engine) if engine is not None else None)
    telegram = telegram_gateway(settings, store, inbox, dialogue, webhook) if settings.telegram_token else None
    desk = None
    if telegram is not None and store is not None:
        kick = telegram.sender.kick if telegram.sender is not None else (lambda: None)
        desk = WebDesk(store, Relay(store, utc_now, inbox), telegram.application.bot, kick)
    limiter = RateLimiter(settings.rate_limit_burst, settings.rate_limit_per_minute)
    app = create_app(
        dialogue,
        settings.action_health_url,
        limiter=limiter,
        engine=engine,
        desk=desk,
        tracker=TrackerEraser(settings.rasa_tracker_url),
    )
    if telegram is not None and telegram.webhook is not None:
        add_webhook(app, telegram.application, telegram.webhook.secret)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, settings.gateway_host, settings.gateway_port)
    await site.start()
    log.info("web chat on http://%s:%s/", settings.gateway_host, settings.gateway_port)
    if telegram is not None:
        await telegram.start()
        log.info("telegram %s started%s", telegram.mode, "" if telegram.sender else " (no lawyer desk)")
    retries = asyncio.create_task(
        dialogue.run_retries(kept_delivery(inbox, telegram), settings.retry_interval_seconds), name="kept-retries"
    )
    tracker = TrackerEraser(settings.rasa_tracker_url)
    purging: asyncio.Task[None] | None = None
    if engine is not None and settings.retention_days:
        purging = asyncio.create_task(purge_daily(engine, tracker, settings.retention_days), name="retention-purge")
    else:
        log.info("no retention purge (%s)", "RETENTION_DAYS is 0 or empty" if engine is not None else "no case store")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for task in (retries, purging):
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    tracker.dispose()
    if telegram is not None:
        try:
            await telegram.stop()
        except Exception:  # stopping anyway: the web API below must still be cleaned up
            log.exception("stopping telegram failed")
    await runner.cleanup()
    if engine is not None:
        engine.dispose()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # httpx logs every request's URL at INFO, and a Bot API URL contains the bot's token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        asyncio.run(serve())
    except (WebhookConfigError, PseudonymKeyError) as error:
        raise SystemExit(f"the gateway did not start: {error}") from error


if __name__ == "__main__":
    main()
