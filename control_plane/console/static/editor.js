// The job form's script: CodeMirror (vendored from npm, scripts/vendor_console.py) over the
// textarea, which it keeps up to date on submit; without JavaScript the textarea is the editor.
(function () {
  "use strict";
  if (typeof CodeMirror === "undefined") { return; }
  var areas = document.querySelectorAll("textarea[data-editor]");
  for (var i = 0; i < areas.length; i++) {
    var editor = CodeMirror.fromTextArea(areas[i], {
      mode: areas[i].dataset.editor,
      lineNumbers: true,
      indentUnit: 4,
      tabSize: 4,
      indentWithTabs: false,
      // Tab indents; Esc leaves the editor, so that the keyboard can move on to the next field.
      extraKeys: {
        Tab: function (cm) { cm.replaceSelection("    "); },
        Esc: function (cm) { cm.getInputField().blur(); document.getElementById("job-submit").focus(); }
      },
      screenReaderLabel: "Script"
    });
    editor.getWrapperElement().id = areas[i].id + "-editor";
  }
})();
