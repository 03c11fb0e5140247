"""The gateway process: the web chat API on aiohttp, and when TELEGRAM_BOT_TOKEN is set, Telegram polling with the
lawyer desk and the outbox sender (every OUTBOX_INTERVAL_SECONDS; offers widen after ESCALATE_AFTER_SECONDS)."""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import timedelta

from aiohttp import web

from bot.rasa_client import RasaClient
from bot.telegram import TelegramGateway, build_telegram
from bot.web import create_app
from hotline.cases.db import DatabaseError, engine_for, require_current
from hotline.cases.store import CaseStore
from hotline.settings import Settings, get_settings

log = logging.getLogger("bot")


def case_store(settings: Settings) -> CaseStore | None:
    """The case store for the desk, or None (logged) if it cannot be used: Telegram persons then still get the
    bot's dialogue, without lawyers. `hotline run` migrates the database before it starts the gateway."""
    try:
        engine = engine_for(settings.effective_database_url)
        require_current(engine)
    except DatabaseError as error:
        log.error("the lawyer desk is off: %s", error)
        return None
    return CaseStore(engine)


def telegram_gateway(settings: Settings) -> TelegramGateway:
    return build_telegram(
        settings.telegram_token,
        RasaClient(settings.rasa_url),
        base_url=settings.telegram_api_url or None,
        store=case_store(settings),
        escalate_after=timedelta(seconds=settings.escalate_after_seconds),
        send_interval=settings.outbox_interval_seconds,
    )


async def serve() -> None:
    settings = get_settings()
    rasa = RasaClient(settings.rasa_url)
    runner = web.AppRunner(create_app(rasa, settings.action_port))
    await runner.setup()
    site = web.TCPSite(runner, settings.gateway_host, settings.gateway_port)
    await site.start()
    log.info("web chat API on http://%s:%s", settings.gateway_host, settings.gateway_port)
    telegram = None
    if settings.telegram_token:
        telegram = telegram_gateway(settings)
        await telegram.start()
        log.info("telegram polling started%s", "" if telegram.sender else " (no lawyer desk)")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    if telegram is not None:
        try:
            await telegram.stop()
        except Exception:  # stopping anyway: the web API below must still be cleaned up
            log.exception("stopping telegram failed")
    await runner.cleanup()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # httpx logs every request's URL at INFO, and a Bot API URL contains the bot's token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    asyncio.run(serve())


if __name__ == "__main__":
    main()
