// Placeholder: serves React (CommonJS only) as ESM to the browser tests. Filled in with the React binding.
export function reactEsm() {
  return { name: 'react-esm' };
}
