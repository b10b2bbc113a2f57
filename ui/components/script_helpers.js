// Helpers that ui/scripts.py puts before each of our component scripts (each is one JavaScript module).

// A new element: class, parent, and its text set as text (never as HTML: titles and class names may be a
// person's words, such as a run's name).
function el(tag, cls, parent, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}
