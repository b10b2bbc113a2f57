// The Model page's confusion matrix: an HTML table whose cells open Test images filtered to them. A Streamlit v2
// component (ui/confusion.py sends `data`; a click sends the trigger value "cell": [actual, predicted]).
//
// Why not plotly: a heatmap with a clickable marker per cell cost the browser about 0.3 s every time the model
// changed (docs/performance.md); a table of 100 cells draws in a few milliseconds.

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  for (const old of parentElement.querySelectorAll(":scope > .fm-cm")) old.remove(); // not the component's <style>
  const root = el("div", "fm-cm", parentElement);
  el("div", "fm-cm-title", root, data.title);
  el("div", "fm-cm-axis fm-cm-predicted", root, "Predicted");
  const frame = el("div", "fm-cm-frame", root);
  el("div", "fm-cm-axis fm-cm-actual", frame, "Actual");
  const table = el("table", "fm-cm-table", frame);
  const head = el("tr", "", el("thead", "", table));
  el("th", "fm-cm-corner", head);
  data.names.forEach((name) => {
    const th = el("th", "fm-cm-col", head);
    el("span", "", th, name);
  });
  const body = el("tbody", "", table);
  data.z.forEach((row, i) => {
    const tr = el("tr", "", body);
    el("th", "fm-cm-row", tr, data.names[i]);
    row.forEach((count, j) => {
      const td = el("td", "fm-cm-cell", tr, String(count));
      td.style.background = data.fill[i][j];
      td.style.color = data.ink[i][j];
      td.dataset.actual = String(i);
      td.dataset.predicted = String(j);
      td.title = `actual ${data.names[i]}, predicted ${data.names[j]}: ${count}`;
      td.tabIndex = 0;
      td.setAttribute("role", "button");
      const open = () => setTriggerValue("cell", [i, j]);
      td.addEventListener("click", open);
      td.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          open();
        }
      });
    });
  });
  return undefined;
}
