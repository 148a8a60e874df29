# The harness's SMTP sink: aiosmtpd (https://aiosmtpd.readthedocs.io) on 127.0.0.1 accepting
# every message and writing it, parsed by the standard library's `email` package, as one JSON
# file into the spool directory given as the first argument. Prints "READY <port>" once bound.
# Started by src/target/email_sink.rs, in the harness's process group; never edited by hand.
import asyncio
import json
import os
import sys
from email import policy
from email.parser import BytesParser

from aiosmtpd.smtp import SMTP


class Spool:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        message = BytesParser(policy=policy.default).parsebytes(envelope.original_content)
        text, html = "", ""
        for part in message.walk():
            if part.is_multipart():
                continue
            kind = part.get_content_type()
            try:
                content = part.get_content()
            except (LookupError, ValueError):
                continue
            if not isinstance(content, str):
                continue
            if kind == "text/plain":
                text += content
            elif kind == "text/html":
                html += content
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "from": str(message.get("From", "")),
            "to": str(message.get("To", "")),
            "subject": str(message.get("Subject", "")),
            "text": text,
            "html": html,
        }
        self.count += 1
        name = "%08d" % self.count
        tmp = os.path.join(self.directory, name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(self.directory, name + ".json"))
        return "250 OK"


async def main():
    handler = Spool(sys.argv[1])
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="mxharness-sink"), host="127.0.0.1", port=0
    )
    port = server.sockets[0].getsockname()[1]
    print("READY %d" % port, flush=True)
    await server.serve_forever()


asyncio.run(main())
