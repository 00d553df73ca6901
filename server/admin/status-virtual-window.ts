/** Which rows a scrolled list draws, and where. */
export interface VirtualWindow {
  /** Rows [first, end) are drawn. */
  first: number;
  end: number;
  /** Where row `first` starts (px): the drawn rows are moved down this far. */
  offset: number;
  /** The whole list's height (px): what the scrollbar stands for. */
  height: number;
}

/**
 * The rows of a list of `count` rows of `rowHeight` px to draw when scrolled to `scrollTop` in a
 * viewport `viewportHeight` px high: those seen, and `overscan` more each side so a short scroll
 * shows no gap before the next frame. The status page runs this very function (its source is
 * inlined), so it uses nothing from outside itself.
 */
export function virtualWindow(scrollTop: number, viewportHeight: number, rowHeight: number, count: number, overscan: number): VirtualWindow {
  const height = count * rowHeight;
  const top = Math.min(Math.max(0, scrollTop), Math.max(0, height - viewportHeight));
  const first = Math.max(0, Math.floor(top / rowHeight) - overscan);
  const end = Math.min(count, Math.ceil((top + Math.max(0, viewportHeight)) / rowHeight) + overscan);
  return { first, end: Math.max(first, end), offset: first * rowHeight, height };
}
