// The IIFE bundle for plain <script> pages: window.SessionKeeper = core + sessionkeeper/oauth.
export * from './index.js'
export * from './oauth/index.js'
