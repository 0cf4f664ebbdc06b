import { mount } from 'svelte';
import App from './App.svelte';
import { listenForNativePen } from './lib/nativePen';
import './app.css';
import './dialogs.css';

const target = document.getElementById('app');
if (target === null) throw new Error('index.html lacks the #app element');

// A tablet pen's pressure from the app, where the webview reports the pen as a mouse.
listenForNativePen();

export default mount(App, { target });
