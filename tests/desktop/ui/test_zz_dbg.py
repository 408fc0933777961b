from tests.desktop.ui.gen_fixtures import gen_window, pollinations, replicate  # noqa
def test_dbg(qtbot, gen_window):
    _w, ui = gen_window
    p = ui.panel
    p.provider.setCurrentIndex(p.provider.findData("openai"))
    print("form", ui.vm.form.provider, ui.vm.caps().qualities, p.fields["quality"].isVisible(), p.fields["quality"].isVisibleTo(p))
    p.provider.setCurrentIndex(p.provider.findData("pollinations"))
    p.prompt.setPlainText("x"*2500)
    print(len(ui.vm.form.prompt), ui.vm.problems, p.generate.isEnabled())
