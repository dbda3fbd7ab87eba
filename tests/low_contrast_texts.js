// The visible texts of the page whose contrast with what is behind them (their ancestors'
// backgrounds, blended over white) is below WCAG 2.1 AA: 4.5:1, or 3:1 for large text.
() => {
  const parse = (color) => {
    const [r, g, b, a = 1] = color.match(/rgba?\(([^)]+)\)/)[1].split(",").map(Number);
    return { r, g, b, a };
  };
  const channel = (v) => (v / 255 <= 0.03928 ? v / 255 / 12.92 : ((v / 255 + 0.055) / 1.055) ** 2.4);
  const luminance = ({ r, g, b }) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const blend = (top, bottom) => ({
    r: top.r * top.a + bottom.r * (1 - top.a),
    g: top.g * top.a + bottom.g * (1 - top.a),
    b: top.b * top.a + bottom.b * (1 - top.a),
    a: 1,
  });
  const background = (node) => {
    const layers = [];
    for (let n = node; n; n = n.parentElement) {
      const colour = parse(getComputedStyle(n).backgroundColor);
      if (colour.a > 0) layers.push(colour);
      if (colour.a === 1) break;
    }
    return layers.reverse().reduce((under, layer) => blend(layer, under), { r: 255, g: 255, b: 255, a: 1 });
  };
  const failures = [];
  for (const node of document.querySelectorAll("body *")) {
    const text = [...node.childNodes].filter((c) => c.nodeType === Node.TEXT_NODE).map((c) => c.textContent.trim()).join("");
    if (!text || !node.checkVisibility()) continue;
    const style = getComputedStyle(node);
    const behind = background(node);
    const [light, dark] = [luminance(blend(parse(style.color), behind)), luminance(behind)].sort((a, b) => b - a);
    const ratio = (light + 0.05) / (dark + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) failures.push(`${node.tagName} "${text.slice(0, 30)}": ${ratio.toFixed(2)}`);
  }
  return failures;
}
