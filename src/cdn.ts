// The IIFE bundle for plain <script> pages: window.SessionKeeper.
export * from './index'
