"""The gateway process: the web chat API on aiohttp, and Telegram polling when TELEGRAM_BOT_TOKEN is set."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from aiohttp import web

from bot.rasa_client import RasaClient
from bot.telegram import build_application
from bot.web import create_app
from hotline.settings import get_settings

log = logging.getLogger("bot")


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
        telegram = build_application(settings.telegram_token, RasaClient(settings.rasa_url))
        await telegram.initialize()
        await telegram.start()
        assert telegram.updater is not None
        await telegram.updater.start_polling()
        log.info("telegram polling started")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    if telegram is not None:
        with contextlib.suppress(Exception):
            assert telegram.updater is not None
            await telegram.updater.stop()
            await telegram.stop()
            await telegram.shutdown()
    await runner.cleanup()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(serve())


if __name__ == "__main__":
    main()
