import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';
import './dialogs.css';

const target = document.getElementById('app');
if (target === null) throw new Error('index.html lacks the #app element');

export default mount(App, { target });
