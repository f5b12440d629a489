/**
 * The orders MazeNET walks LANs and deckies in: by name for hydrate and the deployer (spec/topology.md §1,
 * §6), and the teardown order, which removes the DMZ's network last.
 */

/** Ascending by name, comparing UTF-16 code units (the same as code points for the ASCII names we make). */
export const byName = <A extends { readonly name: string }>(a: A, b: A): number =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : 0

/**
 * LAN names in the order their networks are removed: the others by name descending (LAN-03, LAN-02, …), the
 * DMZ last. The original sorted every name descending, which put a blank topology's DMZ ("dmz") first.
 */
export const teardownOrder = (
  lans: ReadonlyArray<{ readonly name: string; readonly is_dmz: boolean }>
): ReadonlyArray<string> => {
  const descending = [...lans].sort((a, b) => byName(b, a))
  return [...descending.filter((lan) => !lan.is_dmz), ...descending.filter((lan) => lan.is_dmz)].map(
    (lan) => lan.name
  )
}
