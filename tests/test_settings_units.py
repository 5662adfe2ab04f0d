"""Settings as a frozen record with one defaults table: each setting's name, type, default,
environment name and flag in one place, read by the command line and by settings.build."""
from __future__ import annotations

import copy
import dataclasses
import tempfile
import unittest
from pathlib import Path

from oauthdemo import cli, settings
from oauthdemo.core.errors import ConfigError

from .demo_fixtures import demo_settings, start_test_demo


class SettingsCase(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.env_file = Path(tmp.name) / "empty.env"   # no developer .env leaks in
        self.env_file.write_text("", encoding="utf-8")

    def flags(self, *argv: str, parser=None):
        parser = parser or cli.build_login_parser()
        return parser.parse_args(["--env-file", str(self.env_file), *argv])

    def build(self, *argv: str, environ=None, parser=None) -> settings.Settings:
        return settings.build(self.flags(*argv, parser=parser), environ or {})


class TestFrozen(SettingsCase):
    def test_settings_and_provider_are_frozen(self):
        cfg = self.build()
        for record, name, value in ((cfg, "port", 1), (cfg, "provider", None),
                                    (cfg.provider, "issuer", "https://elsewhere/"),
                                    (cfg.embedded, "web_client_id", "other")):
            with self.subTest(type(record).__name__ + "." + name):
                with self.assertRaises(dataclasses.FrozenInstanceError):
                    setattr(record, name, value)

    def test_build_leaves_its_inputs_unchanged(self):
        flags = self.flags("--port", "9000", "--no-browser", "--web-client-id", "mine",
                           parser=cli.build_parser())
        environ = {"OIDC_ISSUER": " https://op.example/ ", "OIDC_CLIENT_ID": "c",
                   "OAUTH_PUBLIC_HOST": "Demo.Example.org"}
        before_flags, before_environ = copy.deepcopy(vars(flags)), dict(environ)
        cfg = settings.build(flags, environ)
        self.assertEqual(vars(flags), before_flags)
        self.assertEqual(environ, before_environ)
        self.assertEqual((cfg.port, cfg.open_browser, cfg.public_host),
                         (9000, False, "demo.example.org"))
        self.assertEqual(cfg.provider.issuer, "https://op.example/")

    def test_start_demo_keeps_what_it_learns_on_running_not_in_the_settings(self):
        cfg = demo_settings()
        running, _ = start_test_demo(cfg)
        self.addCleanup(running.stop)
        self.assertEqual(cfg, demo_settings())               # nothing written back
        self.assertEqual(cfg.provider.issuer, "")
        self.assertEqual(running.provider.issuer, running.auth.issuer)
        self.assertEqual(running.provider.client_id, settings.WEB_CLIENT_ID)
        self.assertTrue(running.provider.introspection_client_secret)

    def test_secrets_are_not_in_the_repr(self):
        cfg = dataclasses.replace(demo_settings(), backend_client_secret="s3cret-1",
                                  embedded_backend_secret="s3cret-2",
                                  provider=settings.Provider("oidc", "https://op/", "c",
                                                             "s3cret-3"))
        for text in (repr(cfg), repr(cfg.embedded)):
            self.assertNotIn("s3cret", text)


class TestOneTable(SettingsCase):
    def test_every_field_but_the_provider_is_a_row_of_the_table(self):
        fields = [f.name for f in dataclasses.fields(settings.Settings)]
        self.assertEqual([row.name for row in settings.TABLE] + ["provider"], fields)
        for row in settings.TABLE:
            with self.subTest(row.name):
                self.assertIs(type(getattr(settings.Settings(), row.name)), row.type)
                self.assertTrue(row.env or row.flag, "a setting nothing can set")
                if row.env:
                    self.assertIn(row.env, settings.ENV_NAMES)

    def test_env_example_documents_every_environment_name(self):
        example = (Path(__file__).resolve().parent.parent / ".env.example").read_text("utf-8")
        for name in settings.ENV_NAMES:
            with self.subTest(name):
                self.assertIn(f"# {name}=", example)

    def test_a_flag_and_its_environment_name_set_the_same_setting(self):
        parser = cli.build_parser()
        help_text = " ".join(parser.format_help().split())
        both = [row for row in settings.TABLE if row.flag and row.env]
        self.assertTrue(both)
        for row in both:
            with self.subTest(row.flag):
                if row.type is bool:   # a switch (--par): the environment says true
                    by_flag = self.build(row.flag, parser=parser)
                    by_env = self.build(environ={row.env: "true"}, parser=parser)
                    self.assertIs(getattr(by_flag, row.name), not row.default)
                    self.assertEqual(by_flag, by_env)
                    self.assertIn(f"(also {row.env}=true)", help_text)
                    continue
                by_flag = self.build(row.flag, "chosen-id", parser=parser)
                by_env = self.build(environ={row.env: "chosen-id"}, parser=parser)
                self.assertEqual(getattr(by_flag, row.name), "chosen-id")
                self.assertEqual(by_flag, by_env)
                self.assertIn(f"(default {row.default}; also {row.env})", help_text)

    def test_each_flag_is_declared_once_from_the_table(self):
        for parser in (cli.build_parser(), cli.build_login_parser(), cli.build_mobile_parser()):
            flags = [opt for action in parser._actions for opt in action.option_strings]
            with self.subTest(parser.prog):
                self.assertEqual(len(flags), len(set(flags)))
        serve = cli.build_parser()
        for row in settings.TABLE:
            if row.flag:
                with self.subTest(row.flag):
                    action = next(a for a in serve._actions if row.flag in a.option_strings)
                    self.assertEqual((action.dest, action.help), (row.name, row.flag_help))

    def test_flags_win_over_the_environment_and_the_environment_over_the_file(self):
        self.env_file.write_text("EMBEDDED_CLI_CLIENT_ID=from-file\n"
                                 "EMBEDDED_WEB_CLIENT_ID=from-file\n", encoding="utf-8")
        cfg = self.build("--web-client-id", "from-flag",
                         environ={"EMBEDDED_CLI_CLIENT_ID": "from-env",
                                  "EMBEDDED_WEB_CLIENT_ID": "from-env"})
        self.assertEqual((cfg.embedded_web_client_id, cfg.embedded_cli_client_id),
                         ("from-flag", "from-env"))
        self.assertEqual(cfg.provider.client_id, "from-flag")

    def test_unset_means_the_default(self):
        cfg = self.build(environ={"OAUTH_SCOPE": "", "OAUTH_REDIRECT_HOST": ""})
        self.assertEqual(cfg, settings.Settings())


class TestBadValues(SettingsCase):
    CASES = [
        ("OAUTH_REDIRECT_HOST", (), {"OAUTH_REDIRECT_HOST": "0.0.0.0"}),
        ("OAUTH_PUBLIC_HOST", (), {"OAUTH_PUBLIC_HOST": "http://demo.example.org:80"}),
        ("--port", ("--port", "70000"), {}),
        ("--idp-port", ("--idp-port", "-1"), {}),
        # Review finding: an empty client_id would match a request that names no client.
        ("--web-client-id", ("--web-client-id", ""), {}),
        ("EMBEDDED_CLI_CLIENT_ID", (), {"EMBEDDED_CLI_CLIENT_ID": "has space"}),
    ]

    def test_a_bad_value_names_its_setting(self):
        for name, argv, environ in self.CASES:
            with self.subTest(name):
                with self.assertRaises(ConfigError) as ctx:
                    self.build(*argv, environ=environ, parser=cli.build_parser())
                self.assertTrue(ctx.exception.description.startswith(name + " must"),
                                ctx.exception.description)

    def test_a_whole_number_from_the_environment(self):
        row = settings.lookup("port")
        self.assertEqual(settings.convert(row, "8093"), 8093)
        with self.assertRaises(ValueError):
            settings.convert(row, "80a")


if __name__ == "__main__":
    unittest.main()
