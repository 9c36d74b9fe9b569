"""Frames on a stream socket: a 4-byte big-endian length, then one msgpack document.

Both ends read at most ``MAX_FRAME`` bytes per frame, so neither can make the other hold more
memory than that for one message. A frame that does not decode is a protocol error, never code.
"""

from __future__ import annotations

import select
import socket
import struct
import time

import msgpack

MAX_FRAME = 96 * 2**20
"""Largest message either side accepts: arrays of a few million float32 values fit easily."""
HEADER = struct.Struct(">I")

REQUEST, REPLY, ERROR = 0, 1, 2
"""Message kinds: ``[REQUEST, id, op, *args]``, ``[REPLY, id, value]``, ``[ERROR, id, exception]``."""


class ProtocolError(Exception):
    """The other side sent something that is not a valid frame."""


class PeerGone(Exception):
    """The other side closed the connection (it exited or was killed)."""


class PeerTimeout(Exception):
    """The other side did not answer before the deadline."""


def send(sock: socket.socket, payload: bytes) -> None:
    if len(payload) > MAX_FRAME:
        raise ProtocolError(f"message of {len(payload)} bytes exceeds the {MAX_FRAME}-byte limit")
    try:
        sock.sendall(HEADER.pack(len(payload)) + payload)
    except (BrokenPipeError, ConnectionResetError):
        raise PeerGone() from None


def receive(sock: socket.socket, deadline: float | None = None) -> bytes:
    """One frame's payload; ``deadline`` is a ``time.monotonic()`` value or None (wait forever)."""
    (length,) = HEADER.unpack(_exactly(sock, HEADER.size, deadline))
    if length > MAX_FRAME:
        raise ProtocolError(f"a frame of {length} bytes exceeds the {MAX_FRAME}-byte limit")
    return _exactly(sock, length, deadline)


def _exactly(sock: socket.socket, size: int, deadline: float | None) -> bytes:
    buffer = bytearray(size)
    view, got = memoryview(buffer), 0
    while got < size:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([sock], [], [], left)[0]:
                raise PeerTimeout()
        try:
            n = sock.recv_into(view[got:], size - got)
        except ConnectionResetError:
            raise PeerGone() from None
        if n == 0:
            raise PeerGone()
        got += n
    return bytes(buffer)


def pack(document, default) -> bytes:
    return msgpack.packb(document, default=default, use_bin_type=True, strict_types=True)


def unpack(payload: bytes, ext_hook):
    try:
        return msgpack.unpackb(payload, ext_hook=ext_hook, raw=False, strict_map_key=True,
                               use_list=True)
    except (ValueError, TypeError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as error:
        raise ProtocolError(f"undecodable message: {error}") from None
