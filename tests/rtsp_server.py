"""Test helper, run by the system Python with GStreamer's RTSP server (Debian's
gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-good): serves an H.264 MP4 at
rtsp://127.0.0.1:PORT/clip, every client its own playback from the start, at real time.

    /usr/bin/python3 tests/rtsp_server.py CLIP.mp4 PORT     # prints "ready" once listening

Stops on SIGTERM / SIGINT. Not imported by the tests (see `netservers.rtsp_server`).
"""

import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> None:
    clip, port = sys.argv[1], sys.argv[2]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(f'( filesrc location="{clip}" ! qtdemux ! rtph264pay name=pay0 pt=96 )')
    factory.set_shared(False)
    server.get_mount_points().add_factory("/clip", factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on port {port}")
    loop = GLib.MainLoop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, loop.quit)
    print("ready", flush=True)
    loop.run()


if __name__ == "__main__":
    main()
