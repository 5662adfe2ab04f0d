"""The CLI's real-world edges: a fixed --port that is busy, the URL printed before any wait,
`login` suggesting --device where no browser can reach the loopback (SSH, no display), and
`token --client-credentials` (RFC 6749 §4.4) narrated without ever printing the secret."""
from __future__ import annotations

import io
import socket
import unittest

from oauthdemo import cli
from oauthdemo.native import cli_login
from oauthdemo.server.keys import SigningKeyStore

from .support import shared_rsa_key
from .test_cli_device import SharedDemoCase
from .test_cli_login import CommandRun

SERVICE_SECRET = "svc-" + "Zq9" * 12   # what the demo and the command share in these tests


class EdgeCase(SharedDemoCase):
    """The running demo is registered with a known demo-service secret."""
    demo_overrides = {"embedded_service_secret": SERVICE_SECRET}

    def token(self, env: str = "", *flags) -> CommandRun:
        argv = ["--client-credentials", "--idp-port", str(self.idp_port),
                "--env-file", self.write_env(env), *flags]
        return CommandRun(run_without_url(cli.token_main), argv)


def run_without_url(main):
    """`token` opens no browser and takes no on_url: CommandRun's hook is dropped."""
    def run(argv, *, out, environ, on_url):
        return main(argv, out=out, environ=environ)
    return run


class TestLoopbackEdges(EdgeCase):
    def test_a_busy_fixed_port_names_the_port_and_what_to_do(self):
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen(1)
            port = busy.getsockname()[1]
            run = CommandRun(cli.login_main, ["--no-browser", "--port", str(port), "--idp-port",
                                              str(self.idp_port), "--env-file", self.env_file])
            self.assertEqual(run.finish(), cli.EXIT_CONFIG, run.output)
        self.assertIn(f"Port {port} on 127.0.0.1 (the login callback, --port {port}) is "
                      "already in use", run.output)
        self.assertIn("leave --port out", " ".join(run.output.split()))
        self.assertIn("ssh -L", run.output)
        self.assertNotIn("Traceback", run.output)

    def test_the_url_is_printed_before_the_wait_begins(self):
        out, seen = io.StringIO(), []
        argv = ["--no-browser", "--timeout", "0.05", "--idp-port", str(self.idp_port),
                "--env-file", self.env_file]
        status = cli.login_main(argv, out=out, environ={"DISPLAY": ":0"},
                                on_url=lambda url: seen.append((url, out.getvalue())))
        self.assertEqual(status, cli.EXIT_TIMEOUT)
        url, printed = seen[0]
        self.assertIn(f"    {url}\n", printed)               # on the console before any wait
        self.assertNotIn("waiting for the browser", printed)
        self.assertNotIn("login --device", out.getvalue())  # a display: no suggestion

    def test_no_display_or_ssh_suggests_login_device(self):
        self.assertEqual(cli_login.remote_session({"DISPLAY": ":0"}), "")
        self.assertIn("SSH", cli_login.remote_session({"DISPLAY": ":0",
                                                       "SSH_CONNECTION": "10.0.0.2 5 10.0.0.1 22"}))
        with socket.socket() as busy:   # the suggestion comes first; a busy port ends it fast
            busy.bind(("127.0.0.1", 0))
            busy.listen(1)
            out = io.StringIO()
            status = cli.login_main(["--no-browser", "--port", str(busy.getsockname()[1]),
                                     "--env-file", self.env_file],
                                    out=out, environ={"SSH_TTY": "/dev/pts/1"})
        self.assertEqual(status, cli.EXIT_CONFIG)
        self.assertIn("This is an SSH session", out.getvalue())
        self.assertIn("`login --device`", out.getvalue())


class TestClientCredentials(EdgeCase):
    def test_token_client_credentials_is_narrated_and_never_prints_the_secret(self):
        run = self.token(f"EMBEDDED_SERVICE_CLIENT_SECRET={SERVICE_SECRET}\n")
        self.assertEqual(run.finish(), cli.EXIT_OK, run.output)
        out = run.output
        self.assertNotIn(SERVICE_SECRET, out)
        self.assertNotIn(SERVICE_SECRET[:8], out)
        self.assertIn("no user, so no browser", out)
        self.assertIn("no PKCE", out)
        self.assertIn("this client is a server", out)
        self.assertRegex(out, r"Authorization = •+ \(\d+ chars, hidden\)")   # masked
        self.assertRegex(out, r"access_token = eyJ\S+…\S+ \(\d+ chars\)")    # abbreviated
        self.assertIn('"sub": "demo-service"', out)          # the verified claims
        self.assertIn("Access token for the machine demo-service (no user)", out)
        self.assertNotIn("id_token", out)

    def test_a_running_demo_with_a_secret_we_do_not_know_is_explained(self):
        run = self.token()
        self.assertEqual(run.finish(), cli.EXIT_CONFIG, run.output)
        self.assertIn("EMBEDDED_SERVICE_CLIENT_SECRET", run.output)

    def test_a_wrong_secret_is_invalid_client(self):
        run = self.token("EMBEDDED_SERVICE_CLIENT_SECRET=not-the-one\n")
        self.assertEqual(run.finish(), cli.EXIT_FAILED, run.output)
        self.assertIn("Token request failed: invalid_client", run.output)
        self.assertNotIn("not-the-one", run.output)

    def test_with_no_demo_running_it_starts_its_own_server(self):
        out = io.StringIO()
        keys = SigningKeyStore(key=shared_rsa_key())
        status = cli.token_main(["--client-credentials", "--idp-port", "0",
                                 "--env-file", self.env_file], out=out, environ={}, keys=keys)
        self.assertEqual(status, cli.EXIT_OK, out.getvalue())
        self.assertIn("Started the embedded authorization server", out.getvalue())


if __name__ == "__main__":
    unittest.main()
