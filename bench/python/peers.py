"""Python peers of `sockfd bench`: the same protocol as bench/c/bench.h and
bench/harness/peer-io.ts, written with Python's socket module (blocking, as
the tutorial's C) and asyncio (the event-loop echo server).

    python3 peers.py pingpong-server | pingpong-client PORT ROUNDS WARMUP
    python3 peers.py throughput-server CHUNK TOTAL WARMUP | throughput-client PORT TOTAL CHUNK WARMUP
    python3 peers.py connect-server COUNT | connect-client PORT COUNT WARMUP
    python3 peers.py echo-server CLIENTS          (asyncio streams)

A server prints "port N" once it listens; a client prints one JSON object.
"""
import asyncio
import json
import socket
import sys
import time


def now_ns():
    return time.perf_counter_ns()


def announce(port):
    print(f"port {port}", flush=True)


def result(obj):
    print(json.dumps(obj), flush=True)


def listen_announced():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(socket.SOMAXCONN)
    announce(listener.getsockname()[1])
    return listener


def connect(port):
    fd = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    fd.connect(("127.0.0.1", port))
    return fd


def recv_exactly(fd, view):
    got = 0
    while got < len(view):
        n = fd.recv_into(view[got:])
        if n == 0:
            if got == 0:
                return False
            raise RuntimeError(f"recv: peer closed after {got} of {len(view)} bytes")
        got += n
    return True


def pingpong_server():
    listener = listen_announced()
    fd, _ = listener.accept()
    fd.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    byte = memoryview(bytearray(1))
    while recv_exactly(fd, byte):
        fd.sendall(byte)
    fd.close()
    listener.close()


def pingpong_client(port, rounds, warmup):
    fd = connect(port)
    fd.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    byte = memoryview(bytearray(b"x"))
    samples = [0] * (warmup + rounds)  # every round timed, the lead-in too (as every implementation)
    for i in range(warmup + rounds):
        start = now_ns()
        fd.sendall(byte)
        if not recv_exactly(fd, byte):
            raise RuntimeError("server closed early")
        samples[i] = now_ns() - start
    fd.close()
    result({"samples_ns": samples[warmup:]})


# The throughput lead-in: WARMUP bytes untimed in this many passes, each answered by one byte
# (the same as bench/c/throughput.c and bench/throughput.ts).
WARMUP_PASSES = 4


def receive_up_to(fd, buffer, limit):
    got = 0
    while got < limit:
        n = fd.recv_into(buffer)
        if n == 0:
            break
        got += n
    return got


def throughput_server(chunk, total, warmup):
    listener = listen_announced()
    fd, _ = listener.accept()
    buffer = bytearray(chunk)
    pass_bytes = warmup // WARMUP_PASSES
    for _ in range(WARMUP_PASSES if pass_bytes > 0 else 0):
        if receive_up_to(fd, buffer, pass_bytes) != pass_bytes:
            raise RuntimeError("the client closed during the warm-up")
        fd.sendall(b"k")
    received = receive_up_to(fd, buffer, total)
    if received != total or fd.recv_into(buffer) != 0:
        raise RuntimeError(f"expected {total} bytes and then the end of the stream, got {received}")
    fd.sendall(b"k")
    print(f"received {received} bytes", file=sys.stderr)
    fd.close()
    listener.close()


def send_chunks(fd, buffer, bytes_):
    sends = 0
    left = bytes_
    chunk = len(buffer)
    while left > 0:
        length = min(left, chunk)
        fd.sendall(buffer[:length])
        left -= length
        sends += 1
    return sends


def throughput_client(port, total, chunk, warmup):
    buffer = memoryview(b"x" * chunk)
    fd = connect(port)
    answer = memoryview(bytearray(1))
    pass_bytes = warmup // WARMUP_PASSES
    for _ in range(WARMUP_PASSES if pass_bytes > 0 else 0):
        send_chunks(fd, buffer, pass_bytes)
        if not recv_exactly(fd, answer):
            raise RuntimeError("server closed during the warm-up")
    start = now_ns()
    sends = send_chunks(fd, buffer, total)
    fd.shutdown(socket.SHUT_WR)
    if not recv_exactly(fd, answer):
        raise RuntimeError("server closed without the final byte")
    elapsed = now_ns() - start
    fd.close()
    result({"ops": sends, "bytes": total, "ns": elapsed})


def connect_server(count):
    listener = listen_announced()
    for _ in range(count):
        fd, _ = listener.accept()
        fd.close()
    listener.close()


def connect_client(port, count, warmup):
    byte = bytearray(1)

    def once():
        fd = connect(port)
        if fd.recv_into(byte) != 0:
            raise RuntimeError("server sent data instead of closing")
        fd.close()

    for _ in range(warmup):
        once()
    start = now_ns()
    for _ in range(count):
        once()
    result({"ops": count, "bytes": 0, "ns": now_ns() - start})


async def echo_server(clients):
    closed = 0
    done = asyncio.get_running_loop().create_future()

    async def serve(reader, writer):
        nonlocal closed
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()
            closed += 1
            if closed == clients and not done.done():
                done.set_result(None)

    server = await asyncio.start_server(serve, "127.0.0.1", 0, backlog=socket.SOMAXCONN)
    announce(server.sockets[0].getsockname()[1])
    await done
    server.close()


def main(argv):
    role, args = argv[0], [int(a) for a in argv[1:]]
    roles = {
        "pingpong-server": pingpong_server,
        "pingpong-client": pingpong_client,
        "throughput-server": throughput_server,
        "throughput-client": throughput_client,
        "connect-server": connect_server,
        "connect-client": connect_client,
        "echo-server": lambda clients: asyncio.run(echo_server(clients)),
    }
    if role not in roles:
        print(f"usage: peers.py {' | '.join(roles)} ARGS...", file=sys.stderr)
        sys.exit(2)
    roles[role](*args)


if __name__ == "__main__":
    main(sys.argv[1:])
