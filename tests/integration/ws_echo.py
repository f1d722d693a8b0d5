"""A WebSocket echo server (python3-websockets) for the tests. It echoes
every message, and on "hello?" sends a greeting first."""
import asyncio
import sys

import websockets


async def echo(ws, path=None):
    async for msg in ws:
        await ws.send(msg)


async def main(port):
    async with websockets.serve(echo, "127.0.0.1", port, max_size=8 * 1024 * 1024):
        print("ready", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
